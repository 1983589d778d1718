import crypto from 'node:crypto';
import type { Knex } from 'knex';

/**
 * A random id per state database: saved plans carry it, so a plan made against one database is
 * refused by another that happens to be at the same serial.
 */
export async function up(knex: Knex): Promise<void> {
  await knex('hookctl_meta').insert({ name: 'state_id', value: `st_${crypto.randomUUID()}` });
}

export async function down(knex: Knex): Promise<void> {
  await knex('hookctl_meta').whereIn('name', ['state_id', 'key_check']).delete();
}
