import type { Knex } from 'knex';

/**
 * Privacy requests and their timelines. Timestamps are ISO-8601 UTC strings like 001's, so
 * that lease and pause expiries compare as strings on both backends.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('privacy_requests', (t) => {
    t.string('id').primary();
    t.string('policy_key').notNullable();
    // pending | in_processing | paused | complete | error
    t.string('status').notNullable();
    // JSON {email, phone_number}: the given identity with derived values merged in.
    t.text('identity').notNullable();
    t.string('external_id');
    t.string('created_at').notNullable();
    t.string('updated_at').notNullable();
    t.string('started_processing_at');
    t.string('finished_processing_at');
    t.string('paused_at');
    t.text('failure_reason');
    // Where execution continues: the step (pre | execute | post) and, within a webhook step,
    // the webhook after which to go on (its position too, in case it is deleted meanwhile).
    t.string('cursor_step');
    t.string('cursor_webhook_id');
    t.integer('cursor_position');
    // While paused: the halting webhook, the id (jti) of the one reply-to token that may
    // resume it, and when the pause expires. Never the token itself.
    t.string('pause_webhook_id');
    t.string('pause_token_jti');
    t.string('pause_expires_at');
    // The step a retry restarts from, set when the request errors.
    t.string('failed_step');
    // The worker executing the request, until when; an expired lease is taken over.
    t.string('lease_owner');
    t.string('lease_expires_at');
    // The seq of the last timeline event (allocated by the update that appends one).
    t.integer('event_seq').notNullable().defaultTo(0);
    t.index(['status', 'lease_expires_at', 'created_at'], 'privacy_requests_claim');
    t.index(['status', 'pause_expires_at'], 'privacy_requests_pause_expiry');
    t.index(['lease_owner'], 'privacy_requests_lease_owner');
    t.index(['created_at'], 'privacy_requests_created');
  });

  await knex.schema.createTable('privacy_request_events', (t) => {
    t.string('privacy_request_id').notNullable().references('id').inTable('privacy_requests').onDelete('CASCADE');
    t.integer('seq').notNullable();
    t.string('webhook_key');
    // pre | execute | post
    t.string('callback_type');
    t.string('direction');
    t.integer('status_code');
    t.string('outcome').notNullable();
    t.text('reason');
    t.string('started_at').notNullable();
    t.integer('duration_ms').notNullable();
    t.primary(['privacy_request_id', 'seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('privacy_request_events');
  await knex.schema.dropTableIfExists('privacy_requests');
}
