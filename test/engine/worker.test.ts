/**
 * The worker: durable claims and leases across Worker instances with their own database
 * connections (as separate processes would have), takeover after a crash, graceful stop,
 * prompt wake-up, periodic expiry, and `runToSettled`. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../src/engine/request-views.js';
import { createPrivacyRequests, getPrivacyRequest, resumePrivacyRequest } from '../../src/engine/service.js';
import { Worker, runToSettled } from '../../src/engine/worker.js';
import type { Database } from '../../src/state/database.js';
import { freshBackends, type Backend } from '../helpers/backends.js';
import { Receiver, keys, openBackend, seedPolicy, served, unique, waitFor } from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
beforeAll(async () => {
  env = await freshBackends('engine_worker');
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver.close();
  await env.drop();
});

const FAST = { leaseMs: 1_500, pollMs: 25, expiryIntervalMs: 100, webhookTimeoutMs: 3_000 };

describe.each(['sqlite', 'postgres'] as const)('%s: worker', (backendName) => {
  let backend: Backend;
  let db: Database;
  const opened: Database[] = [];

  /** Another connection pool on the same state, as another process would have. */
  async function openAnother(): Promise<Database> {
    const another = await openBackend(backend);
    opened.push(another);
    return another;
  }

  beforeAll(async () => {
    backend = env.backends.find((b) => b.name === backendName)!;
    db = await openAnother();
  });
  afterAll(async () => {
    await Promise.all(opened.map((d) => d.close().catch(() => undefined)));
  });

  async function create(policyKey: string, count = 1): Promise<string[]> {
    const items = Array.from({ length: count }, (_, i) => ({ policy_key: policyKey, identity: { email: `w${i}@example.com` } }));
    const { succeeded } = await createPrivacyRequests(db, items);
    return succeeded.map((v) => v.id);
  }

  async function view(id: string): Promise<RequestView> {
    const result = await served(getPrivacyRequest(db, id));
    if (result.status !== 200) throw new Error(`no request ${id}`);
    return result.body;
  }

  const untilStatus = (id: string, status: string, timeoutMs?: number) =>
    waitFor(`${id} to be ${status}`, async () => ((await view(id)).status === status ? true : undefined), timeoutMs);

  it('two workers on one database execute each of 120 requests exactly once', async () => {
    const pre1 = receiver.endpoint({ status: 200, delayMs: 2 });
    const pre2 = receiver.endpoint({ status: 200, body: { halt: false } });
    const post = receiver.endpoint({ status: 204 });
    const { policyKey } = await seedPolicy(db.knex, {
      pre: [
        { key: unique('p1'), direction: 'one_way', url: pre1 },
        { key: unique('p2'), direction: 'two_way', url: pre2 },
      ],
      post: [{ key: unique('post'), direction: 'one_way', url: post }],
    });
    const workers = [new Worker(await openAnother(), keys, { ...FAST, concurrency: 8 }), new Worker(await openAnother(), keys, { ...FAST, concurrency: 8 })];
    const ids = await create(policyKey, 120);
    for (const w of workers) w.start();
    await waitFor(
      'all requests complete',
      async () => {
        const { n } = (await db.knex('privacy_requests').whereIn('id', ids).where('status', 'complete').count({ n: '*' }).first()) as { n: number | string };
        return Number(n) === ids.length ? true : undefined;
      },
      30_000,
    );
    await Promise.all(workers.map((w) => w.stop()));

    for (const url of [pre1, pre2, post]) {
      const perRequest = new Map<string, number>();
      for (const call of receiver.callsTo(url)) {
        const id = (call.body as { privacy_request_id: string }).privacy_request_id;
        perRequest.set(id, (perRequest.get(id) ?? 0) + 1);
      }
      expect(perRequest.size).toBe(ids.length);
      expect([...perRequest.values()].every((n) => n === 1)).toBe(true);
    }
    const timelines = await db.knex('privacy_request_events').whereIn('privacy_request_id', ids).count({ n: '*' }).first();
    expect(Number(timelines!.n)).toBe(ids.length * 4);
  });

  it('takes over the in-progress request of a dead worker when its lease expires', async () => {
    const first = receiver.endpoint(['hang', { status: 200, body: {} }]);
    const second = receiver.endpoint({ status: 200 });
    const { policyKey } = await seedPolicy(db.knex, {
      pre: [
        { key: unique('first'), direction: 'two_way', url: first },
        { key: unique('second'), direction: 'one_way', url: second },
      ],
    });
    const deadDb = await openAnother();
    const logged: string[] = [];
    const dead = new Worker(deadDb, keys, { ...FAST, leaseMs: 600, log: (m) => logged.push(m) });
    const [id] = await create(policyKey);
    dead.start();
    await waitFor('the first call', async () => (receiver.callsTo(first).length === 1 ? true : undefined));
    // The process dies: no more lease renewals, no more writes.
    await deadDb.close();

    const heir = new Worker(await openAnother(), keys, FAST);
    expect(await heir.runOnce()).toBe(0);
    await new Promise((r) => setTimeout(r, 700));
    await heir.drain();
    const done = await view(id!);
    expect(done.status).toBe('complete');
    expect(receiver.callsTo(first)).toHaveLength(2);
    expect(receiver.callsTo(second)).toHaveLength(1);
    // The call delivered again has the id of the first delivery; the next call has another.
    const [delivered, again] = receiver.callsTo(first).map((c) => c.headers['webhook-id']);
    expect(again).toBe(delivered);
    expect(receiver.callsTo(second)[0]!.headers['webhook-id']).not.toBe(delivered);

    // The dead worker's call finally returns; it cannot write anything any more. Its database is
    // gone, so its stop may never settle (a dead process has nothing to stop): bounded here.
    receiver.releaseHanging();
    await Promise.race([dead.stop({ graceMs: 50 }), new Promise((r) => setTimeout(r, 2_000))]);
    await heir.stop();
    expect(logged.length).toBeGreaterThan(0);
    expect((await view(id!)).timeline.map((e) => e.outcome)).toEqual(['continue', 'continue', 'executed']);
  });

  it('a two_way call delivered again halts with a token the first delivery also holds', async () => {
    const halting = receiver.endpoint(['hang', { status: 200, body: { halt: true } }]);
    const { policyKey } = await seedPolicy(db.knex, { pre: [{ key: unique('halting'), direction: 'two_way', url: halting }] });
    const first = new Worker(db, keys, { ...FAST, webhookTimeoutMs: 20_000 });
    const [id] = await create(policyKey);
    first.start();
    await waitFor('the first call', async () => (receiver.callsTo(halting).length === 1 ? true : undefined));
    // The worker goes away during the call: its result is never committed, so the call is made again.
    await first.stop({ graceMs: 50 });
    const successor = new Worker(db, keys, FAST);
    await successor.drain();
    expect((await view(id!)).status).toBe('paused');
    const [delivered, again] = receiver.callsTo(halting);
    expect(again!.headers['webhook-id']).toBe(delivered!.headers['webhook-id']);
    // A receiver that acted on the first delivery (and ignored the second) resumes with its token.
    const token = delivered!.headers['reply-to-token'] as string;
    expect((await served(resumePrivacyRequest(db, keys, id!, `Bearer ${token}`, {}))).status).toBe(200);
    await successor.drain();
    await successor.stop();
    expect((await view(id!)).status).toBe('complete');
    receiver.releaseHanging();
  });

  it('keeps a paused request resumable by another process', async () => {
    const halt = receiver.endpoint({ status: 200, body: { halt: true } });
    const after = receiver.endpoint({ status: 200 });
    const { policyKey } = await seedPolicy(db.knex, {
      pre: [
        { key: unique('halt'), direction: 'two_way', url: halt },
        { key: unique('after'), direction: 'one_way', url: after },
      ],
    });
    const firstDb = await openAnother();
    const [id] = await create(policyKey);
    const first = new Worker(firstDb, keys, FAST);
    await first.drain();
    await first.stop();
    await firstDb.close();

    const secondDb = await openAnother();
    const token = receiver.callsTo(halt)[0]!.headers['reply-to-token'] as string;
    expect((await served(resumePrivacyRequest(secondDb, keys, id!, `Bearer ${token}`, {}))).status).toBe(200);
    const second = new Worker(secondDb, keys, FAST);
    await second.drain();
    await second.stop();
    expect((await view(id!)).status).toBe('complete');
    expect(receiver.callsTo(after)).toHaveLength(1);
  });

  it('stops gracefully: the current call finishes, the request is released and continued by the next worker', async () => {
    const slow = receiver.endpoint({ status: 200, delayMs: 300 });
    const next = receiver.endpoint({ status: 200 });
    const { policyKey } = await seedPolicy(db.knex, {
      pre: [
        { key: unique('slow'), direction: 'one_way', url: slow },
        { key: unique('next'), direction: 'one_way', url: next },
      ],
    });
    const worker = new Worker(db, keys, FAST);
    const [id] = await create(policyKey);
    worker.start();
    await waitFor('the slow call', async () => (receiver.callsTo(slow).length === 1 ? true : undefined));
    await worker.stop();
    const row = await db.knex('privacy_requests').where({ id }).first();
    expect(row).toMatchObject({ status: 'in_processing', lease_owner: null, cursor_step: 'pre' });
    expect(receiver.callsTo(next)).toHaveLength(0);

    const successor = new Worker(db, keys, FAST);
    await successor.drain();
    await successor.stop();
    expect((await view(id!)).status).toBe('complete');
    expect([slow, next].map((u) => receiver.callsTo(u).length)).toEqual([1, 1]);
  });

  it('stops within its grace period, abandoning a hanging call to be made again', async () => {
    const hanging = receiver.endpoint(['hang', { status: 200 }]);
    const { policyKey } = await seedPolicy(db.knex, { post: [{ key: unique('hanging'), direction: 'one_way', url: hanging }] });
    const worker = new Worker(db, keys, { ...FAST, webhookTimeoutMs: 20_000 });
    const [id] = await create(policyKey);
    worker.start();
    await waitFor('the hanging call', async () => (receiver.callsTo(hanging).length === 1 ? true : undefined));
    const started = Date.now();
    await worker.stop({ graceMs: 50 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await db.knex('privacy_requests').where({ id }).first()).toMatchObject({ status: 'in_processing', lease_owner: null });

    const successor = new Worker(db, keys, FAST);
    await successor.drain();
    await successor.stop();
    const done = await view(id!);
    expect(done.status).toBe('complete');
    expect(done.timeline.map((e) => `${e.callback_type}:${e.outcome}`)).toEqual(['execute:executed', 'post:continue']);
    receiver.releaseHanging();
  });

  it('wakes up at once for new and resumed requests, and expires pauses on its own', async () => {
    const halt = receiver.endpoint([{ status: 200, body: { halt: true } }, { status: 200, body: { halt: true } }]);
    const { policyKey } = await seedPolicy(db.knex, { pre: [{ key: unique('halt'), direction: 'two_way', url: halt }] });
    const worker = new Worker(db, keys, { ...FAST, pollMs: 60_000, resumeTimeoutMinutes: 0.02 });
    worker.start();
    try {
      const [resumed] = await create(policyKey);
      await untilStatus(resumed!, 'paused', 2_000);
      const token = receiver.callsTo(halt)[0]!.headers['reply-to-token'] as string;
      expect((await served(resumePrivacyRequest(db, keys, resumed!, `Bearer ${token}`, {}))).status).toBe(200);
      await untilStatus(resumed!, 'complete', 2_000);

      // A 1.2 s pause expires at the worker's next expiry sweep, whatever its poll interval.
      const [expiring] = await create(policyKey);
      await untilStatus(expiring!, 'paused', 2_000);
      await untilStatus(expiring!, 'error', 3_000);
      expect((await view(expiring!)).failure_reason).toBe('paused request expired');
    } finally {
      await worker.stop();
    }
  });

  it('runToSettled runs one request until complete, error or paused', async () => {
    const halt = receiver.endpoint([{ status: 200, body: {} }, { status: 200, body: { halt: true } }]);
    const { policyKey } = await seedPolicy(db.knex, { pre: [{ key: unique('maybe_halt'), direction: 'two_way', url: halt }] });
    const [completes, pauses] = await create(policyKey, 2);
    expect((await runToSettled(db, keys, completes!, FAST)).status).toBe('complete');
    const paused = await runToSettled(db, keys, pauses!, FAST);
    expect(paused.status).toBe('paused');
    expect(paused.resume_endpoint).toBe(`/privacy-request/${pauses}/resume`);
    await expect(runToSettled(db, keys, 'pri_missing', FAST)).rejects.toThrow("no privacy request with id 'pri_missing'");
  });
});
