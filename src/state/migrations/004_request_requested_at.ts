import type { Knex } from 'knex';

/**
 * When the data subject asked (`requested_at` of a Fides create body), which can be earlier
 * than when the request reached hookctl (`created_at`): an ISO-8601 UTC string like the others.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('privacy_requests', (t) => {
    t.string('requested_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('privacy_requests', (t) => {
    t.dropColumn('requested_at');
  });
}
