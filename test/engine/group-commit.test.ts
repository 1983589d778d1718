/**
 * The worker's group commit (src/engine/group-commit.ts), which carries serve's throughput:
 * transitions asked for while a commit runs go together in the next transaction, each still
 * guarded on its own, and one bad write fails only itself. SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/engine/group-commit.js';
import { stepEvent, type RequestRow } from '../../src/state/request-types.js';
import { createPrivacyRequests } from '../../src/engine/service.js';
import type { Database } from '../../src/state/database.js';
import { freshBackends } from '../helpers/backends.js';
import { openBackend, seedPolicy } from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('serve_group_commit');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('group commit on %s', (backendName) => {
  let db: Database;
  let transactions = 0;
  beforeAll(async () => {
    db = await openBackend(env.backends.find((b) => b.name === backendName)!);
    db.knex.on('query', (q: { sql: string }) => {
      if (/^BEGIN/i.test(q.sql)) transactions += 1;
    });
  });
  afterAll(async () => db.close());

  async function queued(count: number): Promise<string[]> {
    const { policyKey } = await seedPolicy(db.knex, {});
    const { succeeded } = await createPrivacyRequests(
      db,
      Array.from({ length: count }, (_, i) => ({ policy_key: policyKey, identity: { email: `g${i}@example.com` } })),
    );
    return succeeded.map((v) => v.id);
  }

  const timeline = async (id: string) =>
    (await db.knex('privacy_request_events').where({ privacy_request_id: id }).orderBy('seq').select('seq', 'reason')) as { seq: number; reason: string }[];

  it('commits the transitions that wait behind a running commit together, each with its own event', async () => {
    const ids = await queued(10);
    const commits = new GroupCommit(db);
    const before = transactions;
    const results = await Promise.all(
      ids.map((id) => commits.transition({ guard: { id, status: 'pending' }, changes: { status: 'in_processing' }, events: [stepEvent('pre', 'retried', `moved ${id}`)] })),
    );
    // The first commits at once, alone; the nine asked for meanwhile share the next transaction.
    expect(transactions - before).toBe(2);
    expect(results.map((rows) => rows.map((r) => [r.id, r.status]))).toEqual(ids.map((id) => [[id, 'in_processing']]));
    for (const id of ids) expect(await timeline(id)).toEqual([{ seq: 1, reason: `moved ${id}` }]);
  });

  it('gives a transition whose guard no longer matches no rows, without disturbing the others', async () => {
    const [first, second] = await queued(2);
    const commits = new GroupCommit(db);
    const [, stale, fresh] = await Promise.all([
      commits.transition({ guard: { id: first! }, changes: { failure_reason: 'warm-up' } }),
      commits.transition({ guard: { id: first!, status: 'paused' }, changes: { status: 'complete' }, events: [stepEvent('post', 'executed', 'stale')] }),
      commits.transition({ guard: { id: second!, status: 'pending' }, changes: { status: 'in_processing' }, events: [stepEvent('pre', 'retried', 'fresh')] }),
    ]);
    expect(stale).toEqual([]);
    expect(fresh.map((r) => r.status)).toEqual(['in_processing']);
    expect(await timeline(first!)).toEqual([]);
    expect(await timeline(second!)).toEqual([{ seq: 1, reason: 'fresh' }]);
  });

  it('fails only the bad write of a batch; the others commit exactly once', async () => {
    const ids = await queued(4);
    const commits = new GroupCommit(db);
    const bad = { no_such_column: 1 } as unknown as Partial<RequestRow>;
    const outcomes = await Promise.allSettled([
      commits.transition({ guard: { id: ids[0]! }, changes: { failure_reason: 'alone first' } }),
      commits.transition({ guard: { id: ids[1]! }, changes: { status: 'in_processing' }, events: [stepEvent('pre', 'retried', 'good 1')] }),
      commits.transition({ guard: { id: ids[2]! }, changes: bad, events: [stepEvent('pre', 'retried', 'bad')] }),
      commits.transition({ guard: { id: ids[3]! }, changes: { status: 'in_processing' }, events: [stepEvent('pre', 'retried', 'good 2')] }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(await timeline(ids[1]!)).toEqual([{ seq: 1, reason: 'good 1' }]);
    expect(await timeline(ids[2]!)).toEqual([]);
    expect(await timeline(ids[3]!)).toEqual([{ seq: 1, reason: 'good 2' }]);
    expect((await db.knex('privacy_requests').where({ id: ids[2] }).first()).status).toBe('pending');
  });

  it('commits a batch as one statement per table, each row under its own guard, null guards included', async () => {
    const ids = await queued(4);
    const commits = new GroupCommit(db);
    const statements: string[] = [];
    const log = (q: { sql: string }) => statements.push(q.sql);
    db.knex.on('query', log);
    const results = await Promise.all([
      commits.transition({ guard: { id: ids[0]! }, changes: { failure_reason: 'alone first' } }),
      commits.transition({ guard: { id: ids[1]!, lease_owner: null }, changes: { cursor_position: 1, lease_owner: 'w1' }, events: [stepEvent('pre', 'retried', 'one')] }),
      commits.transition({ guard: { id: ids[2]!, lease_owner: 'someone else' }, changes: { cursor_position: 2 }, events: [stepEvent('pre', 'retried', 'not mine')] }),
      commits.transition({ guard: { id: ids[3]!, status: 'pending' }, changes: { status: 'in_processing' }, events: [stepEvent('pre', 'retried', 'three')] }),
    ]);
    db.knex.off('query', log);
    // The first commits alone; the other three share BEGIN, one UPDATE, one INSERT, COMMIT.
    expect(statements.filter((sql) => /^update/i.test(sql))).toHaveLength(2);
    expect(statements.filter((sql) => /^insert/i.test(sql))).toHaveLength(1);
    expect(results.map((rows) => rows.map((r) => [r.id, r.cursor_position, r.lease_owner, r.status, r.event_seq]))).toEqual([
      [[ids[0], null, null, 'pending', 0]],
      [[ids[1], 1, 'w1', 'pending', 1]],
      [],
      [[ids[3], null, null, 'in_processing', 1]],
    ]);
    expect((await db.knex('privacy_requests').where({ id: ids[2] }).first()).cursor_position).toBeNull();
    expect(await timeline(ids[1]!)).toEqual([{ seq: 1, reason: 'one' }]);
    expect(await timeline(ids[2]!)).toEqual([]);
  });

  it('applies two transitions of one request in the same batch in order', async () => {
    const [first, second] = await queued(2);
    const commits = new GroupCommit(db);
    const [, started, failed] = await Promise.all([
      commits.transition({ guard: { id: first! }, changes: { failure_reason: 'warm-up' } }),
      commits.transition({ guard: { id: second!, status: 'pending' }, changes: { status: 'in_processing' }, events: [stepEvent('pre', 'retried', 'started')] }),
      commits.transition({ guard: { id: second!, status: 'in_processing' }, changes: { status: 'error' }, events: [stepEvent('pre', 'retried', 'failed')] }),
    ]);
    expect(started.map((r) => r.status)).toEqual(['in_processing']);
    expect(failed.map((r) => r.status)).toEqual(['error']);
    expect(await timeline(second!)).toEqual([
      { seq: 1, reason: 'started' },
      { seq: 2, reason: 'failed' },
    ]);
  });
});
