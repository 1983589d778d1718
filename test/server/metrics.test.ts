/**
 * GET /metrics, scraped from real servers: the request and webhook counters move as requests
 * are created and executed (by a worker reporting to the server, as `serve` wires it), the
 * queue depth is read from the state, two servers in one process count apart, and no id,
 * key, identity or secret appears.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import { Worker } from '../../src/engine/worker.js';
import { AUTHORIZATION, Receiver, seedPolicy } from '../engine/fixtures.js';
import { expectStatus, resetState, startServer, type TestServer } from './api.js';

/** Samples of the Prometheus text format, by `name{labels}` as written. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

async function scrape(s: TestServer): Promise<{ text: string; samples: Map<string, number> }> {
  const res = await fetch(`${s.base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parseMetrics(text) };
}

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
beforeAll(async () => {
  env = await freshBackends('server_metrics');
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver.close();
  await env.drop();
});

describe.each(['sqlite', 'postgres'] as const)('GET /metrics on %s', (backendName) => {
  it('counts requests and webhook calls per server, reads the queue depth from the state, and labels nothing identifying', async () => {
    const backend = env.backends.find((b) => b.name === backendName)!;
    const a = await startServer(backend);
    const b = await startServer(backend);
    try {
      await resetState(a.db);
      const fine = receiver.endpoint({ status: 200 });
      const failing = receiver.endpoint({ status: 503 });
      const ok = await seedPolicy(a.db.knex, { pre: [{ key: 'metrics_pre', direction: 'one_way', url: fine }], post: [{ key: 'metrics_post', direction: 'one_way', url: fine }] });
      const ko = await seedPolicy(a.db.knex, { pre: [{ key: 'metrics_gate', direction: 'two_way', url: failing }] });
      const email = `metrics-planted-${backendName}@example.com`;
      const created = expectStatus(
        await a.request('POST', '/api/v1/privacy-request', {
          body: [
            { policy_key: ok.policyKey, identity: { email } },
            { policy_key: ko.policyKey, identity: { email } },
          ],
        }),
        200,
      ).body as { succeeded: { id: string }[] };
      const ids = created.succeeded.map((r) => r.id);

      // Queued, not yet executed: both servers read the same queue; only A created anything.
      const queued = await scrape(a);
      expect(queued.samples.get('hookctl_privacy_requests_total{status="pending"}')).toBe(2);
      expect(queued.samples.get('hookctl_queue_depth')).toBe(2);
      expect((await scrape(b)).samples.get('hookctl_queue_depth')).toBe(2);

      const worker = new Worker(a.db, a.keys, { observer: a.app.metrics.observer });
      await worker.drain();
      await worker.stop();

      const { text, samples } = await scrape(a);
      expect(samples.get('hookctl_privacy_requests_total{status="in_processing"}')).toBe(2);
      expect(samples.get('hookctl_privacy_requests_total{status="complete"}')).toBe(1);
      expect(samples.get('hookctl_privacy_requests_total{status="error"}')).toBe(1);
      expect(samples.get('hookctl_webhook_calls_total{outcome="continue"}')).toBe(2);
      expect(samples.get('hookctl_webhook_calls_total{outcome="error"}')).toBe(1);
      expect(samples.get('hookctl_webhook_call_duration_seconds_count')).toBe(3);
      expect(samples.get('hookctl_webhook_call_duration_seconds_bucket{le="+Inf"}')).toBe(3);
      expect(samples.get('hookctl_webhook_call_duration_seconds_sum')).toBeGreaterThan(0);
      expect(samples.get('hookctl_queue_depth')).toBe(0);
      // The process defaults.
      expect(samples.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(samples.get('process_resident_memory_bytes')).toBeGreaterThan(0);
      expect([...samples.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_seconds'))).toBe(true);

      // B's worker ran nothing and B created nothing.
      const other = await scrape(b);
      expect([...other.samples.keys()].filter((k) => k.startsWith('hookctl_privacy_requests_total') || k.startsWith('hookctl_webhook_calls_total'))).toEqual([]);
      expect(other.samples.get('hookctl_webhook_call_duration_seconds_count')).toBe(0);

      for (const value of [email, ...ids, ok.policyKey, ko.policyKey, 'metrics_pre', 'metrics_gate', fine, failing, AUTHORIZATION, 'hook-secret']) {
        expect(text).not.toContain(value);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
