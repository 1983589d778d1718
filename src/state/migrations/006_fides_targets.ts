import type { Knex } from 'knex';

/**
 * Bookkeeping of Fides servers that hookctl applies to, per target (the normalized server URL):
 * per resource, whether hookctl created it there, its digest as last applied (drift) and the
 * keyed fingerprints of the secrets hookctl last set (never values); and the revision history
 * of those applies, partial ones included.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('fides_resources', (t) => {
    t.string('target', 2048).notNullable();
    /** `connection/<key>`, `policy/<key>` or `list/<policy>/<phase>`. */
    t.string('resource', 512).notNullable();
    t.boolean('created').notNullable().defaultTo(false);
    t.string('digest');
    t.string('fp_url');
    t.string('fp_authorization');
    t.primary(['target', 'resource']);
  });
  await knex.schema.createTable('fides_revisions', (t) => {
    t.string('target', 2048).notNullable();
    t.integer('serial').notNullable();
    t.string('applied_at').notNullable();
    t.string('actor').notNullable();
    t.string('manifest_digest').notNullable();
    t.text('summary').notNullable();
    t.text('changes').notNullable();
    t.boolean('partial').notNullable();
    t.primary(['target', 'serial']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('fides_revisions');
  await knex.schema.dropTable('fides_resources');
}
