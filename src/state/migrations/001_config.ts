import type { Knex } from 'knex';

/**
 * The configuration state. Timestamps are ISO-8601 UTC strings so that both backends
 * compare and return them identically. Secret values live only in `secrets_encrypted`
 * (AES-256-GCM); `secret_fingerprints` holds keyed HMACs, never values.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('hookctl_meta', (t) => {
    t.string('name').primary();
    t.text('value').notNullable();
  });
  await knex('hookctl_meta').insert({ name: 'serial', value: '0' });

  await knex.schema.createTable('connections', (t) => {
    t.string('key').primary();
    t.string('name').notNullable();
    t.string('connection_type').notNullable();
    t.string('access').notNullable();
    t.text('description');
    t.boolean('disabled').notNullable().defaultTo(false);
    t.integer('timeout_ms');
    t.text('secrets_encrypted');
    t.text('secret_fingerprints');
    t.string('origin').notNullable();
    t.string('created_at').notNullable();
    t.string('updated_at').notNullable();
  });

  await knex.schema.createTable('policies', (t) => {
    t.string('key').primary();
    t.string('name').notNullable();
    t.string('origin').notNullable();
    t.string('created_at').notNullable();
    t.string('updated_at').notNullable();
  });

  await knex.schema.createTable('webhooks', (t) => {
    t.string('id').primary();
    t.string('phase').notNullable();
    t.string('policy_key').notNullable().references('key').inTable('policies').onDelete('CASCADE');
    t.string('key').notNullable();
    t.string('name').notNullable();
    t.string('connection_key').notNullable().references('key').inTable('connections');
    t.string('direction').notNullable();
    t.integer('position').notNullable();
    t.string('created_at').notNullable();
    t.string('updated_at').notNullable();
    // Fides: key and name are unique per table (phase) across all policies.
    t.unique(['phase', 'key']);
    t.unique(['phase', 'name']);
    t.index(['policy_key', 'phase', 'position']);
    t.index(['connection_key']);
  });

  await knex.schema.createTable('revisions', (t) => {
    t.integer('serial').primary();
    t.string('applied_at').notNullable();
    t.string('actor').notNullable();
    t.string('manifest_digest').notNullable();
    t.text('summary').notNullable();
    t.text('changes').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['revisions', 'webhooks', 'policies', 'connections', 'hookctl_meta']) {
    await knex.schema.dropTableIfExists(table);
  }
}
