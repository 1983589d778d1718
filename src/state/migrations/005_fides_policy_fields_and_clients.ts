import type { Knex } from 'knex';

/**
 * What serve needs to answer a Fides 2.x client: a policy's `drp_action` and
 * `execution_timeframe` (null until set through the API; manifests never set them), and OAuth
 * clients made with POST /oauth/client. A client's secret is kept only as a keyed hash.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('policies', (t) => {
    t.string('drp_action');
    t.integer('execution_timeframe');
  });
  await knex.schema.createTable('oauth_clients', (t) => {
    t.string('client_id').primary();
    t.string('secret_hash').notNullable();
    t.string('name');
    t.text('description');
    // JSON array of scope strings.
    t.text('scopes').notNullable();
    t.string('created_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('oauth_clients');
  await knex.schema.alterTable('policies', (t) => {
    t.dropColumn('execution_timeframe');
    t.dropColumn('drp_action');
  });
}
