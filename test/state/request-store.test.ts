/**
 * The request store's transitions (src/state/request-store.ts) each change a request only while
 * it is as the caller expects — its lease holder, its status, its pause — on both backends: a
 * worker that lost its lease writes nothing, two claimers never hold one request, a pause
 * token resumes once, and a resume racing the pause's expiry is one or the other, never both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/state/database.js';
import {
  claimRequests,
  commitResults,
  createRequests,
  expirePauses,
  findRequest,
  pauseRequest,
  readTimelines,
  releaseRequest,
  resumeRequest,
  retryRequest,
  type PauseChanges,
} from '../../src/state/request-store.js';
import { stepEvent } from '../../src/state/request-types.js';
import { freshBackends } from '../helpers/backends.js';
import { openBackend, seedPolicy } from '../engine/fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('request_store');
});
afterAll(async () => env.drop());

const TRIALS = 25;

describe.each(['sqlite', 'postgres'] as const)('request store on %s', (backendName) => {
  let db: Database;
  /** A second connection (pool) to the same state, as another process would have. */
  let other: Database;
  let policyKey: string;
  beforeAll(async () => {
    const backend = env.backends.find((b) => b.name === backendName)!;
    db = await openBackend(backend);
    other = await openBackend(backend);
    ({ policyKey } = await seedPolicy(db.knex, {}));
  });
  afterAll(async () => {
    await other.close();
    await db.close();
  });

  async function queue(count: number): Promise<string[]> {
    const rows = await createRequests(
      db,
      Array.from({ length: count }, (_, i) => ({ policy_key: policyKey, identity: JSON.stringify({ email: `s${i}@example.com`, phone_number: null }), external_id: null, requested_at: null })),
    );
    return rows.map((r) => r.id);
  }

  const event = (reason: string) => stepEvent('pre', 'continue', reason);
  const pause = (jti: string): PauseChanges => ({
    status: 'paused',
    paused_at: new Date().toISOString(),
    pause_webhook_id: 'pol_hook',
    pause_token_jti: jti,
    pause_expires_at: new Date(Date.now() + 60_000).toISOString(),
  });
  const reasons = async (id: string) => ((await readTimelines(db, [id])).get(id) ?? []).map((e) => e.reason);

  it('lets a worker whose lease was taken over write nothing: no result, no pause, no release', async () => {
    const [id] = await queue(1);
    const [mine] = await claimRequests(db, { owner: 'stale', limit: 1, leaseMs: 1, id: id! });
    expect(mine?.lease_owner).toBe('stale');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [taken] = await claimRequests(other, { owner: 'fresh', limit: 1, leaseMs: 60_000, id: id! });
    expect(taken?.lease_owner).toBe('fresh');

    const stale = { id: id!, lease_owner: 'stale' };
    expect(await commitResults(db, [{ guard: stale, changes: { cursor_position: 7 }, events: [event('stale result')] }])).toEqual([[]]);
    expect(await pauseRequest(db, 'stale', id!, pause('jti-stale'), [event('stale pause')])).toBeUndefined();
    expect(await releaseRequest(db, 'stale', id!)).toBeUndefined();

    const row = (await findRequest(db, id!))!;
    expect([row.status, row.lease_owner, row.cursor_position, row.pause_token_jti, row.event_seq]).toEqual(['in_processing', 'fresh', null, null, 0]);
    expect(await reasons(id!)).toEqual([]);

    // The holder's own result commits, in a batch with the stale one, which still does nothing.
    const [fresh, again] = await commitResults(db, [
      { guard: { id: id!, lease_owner: 'fresh' }, changes: { cursor_position: 1 }, events: [event('fresh result')] },
      { guard: { id: 'pri_other', lease_owner: 'stale' }, changes: { cursor_position: 9 }, events: [event('nobody')] },
    ]);
    expect(fresh!.map((r) => [r.cursor_position, r.event_seq])).toEqual([[1, 1]]);
    expect(again).toEqual([]);
    expect(await reasons(id!)).toEqual(['fresh result']);
  });

  it('commits results asynchronously without leaving the connection so: later writes wait for the disk again', async () => {
    const ids = await queue(3);
    const setting = async () => {
      const result = await db.knex.raw(backendName === 'sqlite' ? 'PRAGMA synchronous' : 'SHOW synchronous_commit');
      return backendName === 'sqlite' ? (result as { synchronous: number }[])[0]!.synchronous : (result as { rows: { synchronous_commit: string }[] }).rows[0]!.synchronous_commit;
    };
    const before = await setting();
    expect(before).toBe(backendName === 'sqlite' ? 2 : 'on');
    const updated = await commitResults(
      db,
      ids.map((id, i) => ({ guard: { id }, changes: { cursor_position: i }, events: [event(`result ${i}`)] })),
    );
    expect(updated.map((rows) => rows.map((r) => r.cursor_position))).toEqual([[0], [1], [2]]);
    expect(await setting()).toBe(before);
  });

  it(`never gives one request to two claimers at once (${TRIALS} trials, two connections)`, async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const ids = await queue(12);
      const claimed = new Map<string, string[]>();
      const claimer = async (store: Database, owner: string) => {
        for (;;) {
          const rows = await claimRequests(store, { owner, limit: 3, leaseMs: 60_000 });
          const mine = rows.filter((r) => ids.includes(r.id));
          for (const row of mine) claimed.set(row.id, [...(claimed.get(row.id) ?? []), owner]);
          if (rows.length === 0) return;
        }
      };
      await Promise.all([claimer(db, `a${trial}`), claimer(other, `b${trial}`), claimer(db, `c${trial}`)]);
      expect([...claimed.keys()].sort()).toEqual([...ids].sort());
      for (const [id, owners] of claimed) {
        expect(owners).toHaveLength(1);
        expect((await findRequest(db, id))!.lease_owner).toBe(owners[0]);
      }
      // Done with this trial's requests: none is left claimable for the next.
      await commitResults(
        db,
        ids.map((id) => ({ guard: { id }, changes: { status: 'complete' as const, lease_owner: null, lease_expires_at: null } })),
      );
    }
  });

  it('resumes a pause once, only with its own token, and only while paused', async () => {
    const [id] = await queue(1);
    await claimRequests(db, { owner: 'w', limit: 1, leaseMs: 60_000, id: id! });
    const paused = await pauseRequest(db, 'w', id!, pause('jti-1'), [event('halted')]);
    expect([paused?.status, paused?.lease_owner, paused?.pause_token_jti]).toEqual(['paused', null, 'jti-1']);

    const identity = (email: string) => JSON.stringify({ email, phone_number: null });
    expect(await resumeRequest(db, { id: id!, jti: 'jti-other', identity: identity('x@example.com'), event: event('wrong token') })).toBeUndefined();
    const results = await Promise.all(
      ['first', 'second'].map((who, i) =>
        resumeRequest(i === 0 ? db : other, { id: id!, jti: 'jti-1', identity: identity(`${who}@example.com`), event: event(`resumed by ${who}`) }),
      ),
    );
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    const row = (await findRequest(db, id!))!;
    expect([row.status, row.pause_token_jti, row.identity]).toEqual(['in_processing', null, winners[0]!.identity]);
    expect((await reasons(id!)).filter((r) => r?.startsWith('resumed by'))).toHaveLength(1);
    expect(await retryRequest(db, { id: id!, step: 'pre', event: event('not in error') })).toBeUndefined();
  });

  it(`lets a resume and the pause's expiry race: exactly one of them wins (${TRIALS} trials)`, async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const [id] = await queue(1);
      await claimRequests(db, { owner: 'w', limit: 1, leaseMs: 60_000, id: id! });
      const jti = `jti-race-${trial}`;
      await pauseRequest(db, 'w', id!, { ...pause(jti), pause_expires_at: new Date(Date.now() - 1).toISOString() }, [event('halted')]);
      const [resumed, expired] = await Promise.all([
        resumeRequest(other, { id: id!, jti, identity: JSON.stringify({ email: 'r@example.com', phone_number: null }), event: stepEvent('pre', 'resumed', 'resumed') }),
        expirePauses(db, { now: new Date(), limit: 100, reason: 'paused request expired', event: stepEvent('pre', 'expired', 'paused request expired') }),
      ]);
      const expiredHere = expired.some((r) => r.id === id);
      expect(Number(resumed !== undefined) + Number(expiredHere)).toBe(1);
      const row = (await findRequest(db, id!))!;
      expect(row.status).toBe(expiredHere ? 'error' : 'in_processing');
      const outcomes = ((await readTimelines(db, [id!])).get(id!) ?? []).map((e) => e.outcome);
      expect(outcomes.filter((o) => o === 'resumed' || o === 'expired')).toEqual([expiredHere ? 'expired' : 'resumed']);
      if (expiredHere) {
        // An expired pause keeps its failed step, and a retry runs it again — once.
        const retried = await Promise.all([db, other].map((store) => retryRequest(store, { id: id!, step: 'pre', event: stepEvent('pre', 'retried', 'retry') })));
        expect(retried.filter((r) => r !== undefined).map((r) => [r!.status, r!.cursor_step, r!.failed_step])).toEqual([['in_processing', 'pre', null]]);
      }
    }
  });
});
