/**
 * Two `serve` processes on one PostgreSQL database share the work: 200 requests, each webhook
 * called exactly once per request, all complete, both processes executed some of them, and
 * neither ran more at once than its --concurrency.
 *
 * Which process runs a request is visible only while it runs: the row's lease owner (the
 * worker id each process logs at startup) is cleared when the request finishes. The test
 * samples the owners of running requests from the database meanwhile.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, type Backend } from '../helpers/backends.js';
import { Receiver, waitFor } from '../engine/fixtures.js';
import { applyManifest, createRequests, createToken, killAllServes, startServe, writeManifest } from './processes.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
beforeAll(async () => {
  env = await freshBackends('serve_two_servers');
  receiver = await Receiver.start();
});
afterEach(killAllServes);
afterAll(async () => {
  await receiver.close();
  await env.drop();
});

const REQUESTS = 200;
/** The API takes at most 50 requests per call. */
const BATCH = 50;
const CONCURRENCY = 8;

describe('two serve processes on one PostgreSQL database', () => {
  it('execute 200 requests between them, each webhook called exactly once per request', async () => {
    const backend: Backend = env.backends.find((b) => b.name === 'postgres')!;
    // A few milliseconds per call keep requests running long enough to be seen running.
    const hooks = [
      receiver.endpoint({ status: 200, delayMs: 3 }),
      receiver.endpoint({ status: 200, body: { halt: false }, delayMs: 3 }),
      receiver.endpoint({ status: 204, delayMs: 3 }),
    ];
    const manifest = writeManifest(backend.dir, {
      shared_policy: {
        pre: [
          { key: 'shared_warmup', direction: 'one_way', url: hooks[0]! },
          { key: 'shared_lookup', direction: 'two_way', url: hooks[1]! },
        ],
        post: [{ key: 'shared_done', direction: 'one_way', url: hooks[2]! }],
      },
    });
    await applyManifest(backend, manifest);
    const token = await createToken(backend, ['privacy-request:create', 'privacy-request:read']);
    const servers = await Promise.all([startServe(backend, ['--concurrency', String(CONCURRENCY)]), startServe(backend, ['--concurrency', String(CONCURRENCY)])]);

    const client = new pg.Client({ connectionString: backend.url });
    await client.connect();
    const ownersSeen = new Map<string, Set<string>>();
    /** The most requests seen running at once in one process. */
    let mostAtOnce = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await client.query<{ id: string; lease_owner: string }>('SELECT id, lease_owner FROM privacy_requests WHERE lease_owner IS NOT NULL');
        for (const { id, lease_owner } of rows) ownersSeen.set(id, (ownersSeen.get(id) ?? new Set()).add(lease_owner));
        for (const server of servers) mostAtOnce = Math.max(mostAtOnce, rows.filter((r) => r.lease_owner === server.owner).length);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    try {
      // Half the batches through each process, at the same time: each wakes for its own.
      const batches = Array.from({ length: REQUESTS / BATCH }, (_, b) =>
        Array.from({ length: BATCH }, (_, i) => ({ policy_key: 'shared_policy', identity: { email: `user-${b * BATCH + i}@example.com` } })),
      );
      const ids = (await Promise.all(batches.map((items, b) => createRequests(servers[b % 2]!.base, token, items)))).flat();
      expect(new Set(ids).size).toBe(REQUESTS);

      const complete = async () => {
        const { rows } = await client.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM privacy_requests GROUP BY status');
        return rows.length === 1 && rows[0]!.status === 'complete' && Number(rows[0]!.n) === REQUESTS ? true : undefined;
      };
      await waitFor('all requests complete', complete, 30_000);
      sampling = false;
      await sampler;

      for (const url of hooks) {
        const perRequest = new Map<string, number>();
        for (const call of receiver.callsTo(url)) {
          const id = (call.body as { privacy_request_id: string }).privacy_request_id;
          perRequest.set(id, (perRequest.get(id) ?? 0) + 1);
        }
        expect([...perRequest.keys()].sort()).toEqual([...ids].sort());
        expect([...perRequest.values()].filter((n) => n !== 1)).toEqual([]);
      }

      // Both did work, and no request was seen held by both.
      const byOwner = new Map(servers.map((s) => [s.owner, 0]));
      for (const owners of ownersSeen.values()) {
        expect(owners.size).toBe(1);
        const [owner] = owners;
        expect(byOwner.has(owner!)).toBe(true);
        byOwner.set(owner!, byOwner.get(owner!)! + 1);
      }
      for (const [owner, count] of byOwner) expect(count, `requests seen running in ${owner}`).toBeGreaterThan(0);
      // Each process claims no more than its --concurrency, however many requests are queued.
      expect(mostAtOnce).toBeGreaterThan(1);
      expect(mostAtOnce).toBeLessThanOrEqual(CONCURRENCY);
    } finally {
      sampling = false;
      await sampler;
      await client.end();
    }
  });
});
