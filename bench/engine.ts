/**
 * The engine's target: 500 privacy requests through a policy of 3 two_way pre and 2 one_way post
 * webhooks, 16 requests in flight, against a receiver in its own process on loopback. Baseline,
 * same run, same receiver: the same 2,500 POSTs by plain fetch, 16 chains of 5 calls in flight.
 * The engine runs in this process (Worker + createPrivacyRequests, config applied by
 * applyManifests), on a fresh SQLite file and on a fresh PostgreSQL database.
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunnableWebhook } from '../src/state/config-reads.js';
import { issueReplyToken } from '../src/engine/reply-token.js';
import type { RequestRow, TimelineEntry } from '../src/state/request-types.js';
import { executeClaimed } from '../src/engine/runner.js';
import { createPrivacyRequests } from '../src/engine/service.js';
import { WebhookClient } from '../src/engine/webhook-client.js';
import { Worker } from '../src/engine/worker.js';
import { loadManifests } from '../src/manifest/load.js';
import { applyManifests } from '../src/reconcile/apply.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../src/state/database.js';
import { deriveKeys, type Keys } from '../src/state/keys.js';
import type { ReceiverMessage } from './engine-receiver.js';
import { table } from './measure.js';
import { scratchPostgres } from './postgres.js';

const RECEIVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'engine-receiver.js');
const REQUESTS = 500;
const WARMUP_REQUESTS = 1000;
const CONCURRENCY = 16;
/** The API's batch limit: requests are queued as a client of `serve` would queue them. */
const CREATE_BATCH = 50;
const TARGET_SHARE = 0.6;
const HOOKS = [
  { key: 'bench_pre_1', phase: 'pre', direction: 'two_way' },
  { key: 'bench_pre_2', phase: 'pre', direction: 'two_way' },
  { key: 'bench_pre_3', phase: 'pre', direction: 'two_way' },
  { key: 'bench_post_1', phase: 'post', direction: 'one_way' },
  { key: 'bench_post_2', phase: 'post', direction: 'one_way' },
] as const;
const AUTHORIZATION = 'Bearer bench-hook-token';

/** One measured run of N requests × 5 calls. All times in ms. */
interface RunResult {
  calls: number;
  wallMs: number;
  /** Per request: its processing time (start to finish) divided by its 5 calls. */
  perCallMs: number[];
  /** One POST's round trip as the caller timed it. */
  roundTripMs: number[];
  /** Receiver clock: from answering a call to receiving the same request's next call. */
  turnaroundMs: number[];
}

export async function benchEngine(): Promise<string> {
  const receiver = await Receiver.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-bench-engine-'));
  const keys = deriveKeys(crypto.randomBytes(32));
  const runs: [string, RunResult][] = [];
  try {
    const manifests = writeManifest(dir, receiver.port);
    // Every run is measured warm (the JIT has compiled fetch, the runner and the drivers), and the
    // baseline is measured first and last: the faster of the two is the reference, so that the
    // warm-up the engine runs get from the runs before them does not flatter them.
    await runBaseline(receiver, keys, WARMUP_REQUESTS);
    const baselines = [await runBaseline(receiver, keys, REQUESTS)];
    await runStateless(receiver, keys, WARMUP_REQUESTS);
    runs.push(['engine, no state (ceiling)', await runStateless(receiver, keys, REQUESTS)]);
    runs.push(['engine: SQLite', await withDatabase(`sqlite:${path.join(dir, 'state.db')}`, (db) => runEngine(db, keys, manifests, receiver))]);

    // Without a PostgreSQL server the SQLite figures still stand; a failure of the run itself is not hidden.
    const scratch = await scratchPostgres('engine').catch((err: Error) => err);
    const pgNote = scratch instanceof Error ? `PostgreSQL: not measured (${scratch.message})` : undefined;
    if (!(scratch instanceof Error)) {
      try {
        runs.push(['engine: PostgreSQL', await withDatabase(scratch.url, (db) => runEngine(db, keys, manifests, receiver))]);
      } finally {
        await scratch.drop();
      }
    }
    baselines.push(await runBaseline(receiver, keys, REQUESTS));
    const baseline = baselines.reduce((a, b) => (throughput(b) > throughput(a) ? b : a));
    const rows = [row('baseline: plain fetch', baseline, baseline), ...runs.map(([name, run]) => row(name, run, baseline))];
    // The target holds for each backend measured.
    const verdicts = runs
      .filter(([name]) => name.startsWith('engine: '))
      .map(([name, run]) => {
        const share = throughput(run) / throughput(baseline);
        return `${share >= TARGET_SHARE ? 'PASS' : 'MISS'}  ${name.slice('engine: '.length)} throughput ≥ ${TARGET_SHARE * 100}% of baseline: ${(share * 100).toFixed(0)}%`;
      });
    return [
      `Engine (${REQUESTS} privacy requests × ${HOOKS.length} webhooks: 3 two_way pre, 2 one_way post; ${CONCURRENCY} requests in flight; receiver in its own process on loopback)`,
      table(
        ['run', 'calls', 'wall ms', 'calls/s', 'vs baseline', 'per call p50', 'per call p99', 'added p50', 'added p99', 'POST p50', 'POST p99', 'gap p50', 'gap p99'],
        rows,
      ),
      'per call: a request\'s processing time (claim to complete; baseline: its chain of 5 POSTs) / 5. added: per call minus the baseline\'s, at the same percentile.',
      `baseline: the faster of two runs, before the engine runs and after them (${baselines.map((b) => throughput(b).toFixed(0)).join(' and ')} calls/s); each run follows a warm-up of ${WARMUP_REQUESTS} requests.`,
      'engine, no state: the runner and its calls with every state write answered in memory (no database, no claims): what durable state is measured against.',
      'POST: one call\'s round trip as the caller timed it (engine: timeline duration_ms, whole ms). gap: receiver clock, from answering a call to receiving the same request\'s next call.',
      ...(pgNote ? [pgNote] : []),
      ...verdicts,
    ].join('\n');
  } finally {
    receiver.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function throughput(run: RunResult): number {
  return (run.calls / run.wallMs) * 1000;
}

function row(name: string, run: RunResult, baseline: RunResult): (string | number)[] {
  const p = (values: number[], q: number) => percentile(values, q);
  return [
    name,
    run.calls,
    run.wallMs,
    throughput(run),
    `${((throughput(run) / throughput(baseline)) * 100).toFixed(0)}%`,
    p(run.perCallMs, 50),
    p(run.perCallMs, 99),
    p(run.perCallMs, 50) - p(baseline.perCallMs, 50),
    p(run.perCallMs, 99) - p(baseline.perCallMs, 99),
    p(run.roundTripMs, 50),
    p(run.roundTripMs, 99),
    p(run.turnaroundMs, 50),
    p(run.turnaroundMs, 99),
  ];
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)] ?? NaN;
}

/** Webhook URL of a hook on the receiver: its path says how the receiver answers. */
function hookUrl(port: number, hook: (typeof HOOKS)[number]): string {
  return `http://127.0.0.1:${port}/${hook.direction}/${hook.key}`;
}

function writeManifest(dir: string, port: number): string {
  const connections = HOOKS.flatMap((h) => [
    `  - key: ${h.key}_connection`,
    `    name: ${h.key} connection`,
    '    connection_type: https',
    `    secrets: { url: "${hookUrl(port, h)}", authorization: { env: BENCH_HOOK_AUTHORIZATION } }`,
  ]);
  const list = (phase: 'pre' | 'post') =>
    HOOKS.filter((h) => h.phase === phase).map(
      (h) => `      - { key: ${h.key}, name: ${h.key} webhook, connection_config_key: ${h.key}_connection, direction: ${h.direction} }`,
    );
  const file = path.join(dir, 'manifests', 'bench.yaml');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const policy = ['policy:', '  - key: bench_policy', '    name: Bench policy', '    pre_execution_webhooks:', ...list('pre'), '    post_execution_webhooks:', ...list('post')];
  fs.writeFileSync(file, ['connection:', ...connections, ...policy, ''].join('\n'));
  return file;
}

async function withDatabase<T>(url: string, use: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(parseDatabaseUrl(url, process.cwd()));
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

/** Apply the bench policy, then a warm-up and the measured run. */
async function runEngine(db: Database, keys: Keys, manifest: string, receiver: Receiver): Promise<RunResult> {
  const { state, diagnostics } = loadManifests([manifest], { cwd: path.dirname(manifest) });
  if (!state) throw new Error(`bench manifest is invalid: ${diagnostics.map((d) => d.message).join('; ')}`);
  await applyManifests(db, keys, state, {
    lockTimeoutMs: 10_000,
    actor: 'bench',
    env: { BENCH_HOOK_AUTHORIZATION: AUTHORIZATION },
    prune: false,
    approve: async () => true,
  });
  await engineRun(db, keys, receiver, WARMUP_REQUESTS);
  return engineRun(db, keys, receiver, REQUESTS);
}

async function engineRun(db: Database, keys: Keys, receiver: Receiver, count: number): Promise<RunResult> {
  const problems: string[] = [];
  const worker = new Worker(db, keys, { concurrency: CONCURRENCY, log: (m) => problems.push(m) });
  const started = Date.now();
  worker.start();
  const ids: string[] = [];
  for (let i = 0; i < count; i += CREATE_BATCH) {
    const items = Array.from({ length: Math.min(CREATE_BATCH, count - i) }, (_, j) => ({
      policy_key: 'bench_policy',
      identity: { email: `bench-${i + j}@example.com` },
    }));
    const { succeeded, failed } = await createPrivacyRequests(db, items);
    if (failed.length > 0) throw new Error(`cannot queue bench requests: ${failed[0]!.message}`);
    ids.push(...succeeded.map((v) => v.id));
  }
  const timeoutAt = Date.now() + 300_000;
  for (;;) {
    const counts: { status: string; n: number | string }[] = await db.knex('privacy_requests').whereIn('id', ids).groupBy('status').select('status').count({ n: '*' });
    const done = Number(counts.find((c) => c.status === 'complete')?.n ?? 0);
    const failed = Number(counts.find((c) => c.status === 'error')?.n ?? 0);
    if (failed > 0) throw new Error(`${failed} bench requests ended in error: ${problems.join('; ')}`);
    if (done === count) break;
    if (Date.now() > timeoutAt) throw new Error(`bench requests did not complete in time (${done}/${count})`);
    // The end is read from the rows (finished_processing_at), not from this poll: polling
    // seldom keeps the bench's own 500-id query off the engine's one SQLite connection.
    await new Promise((r) => setTimeout(r, 250));
  }
  await worker.stop();
  // The run ends when the last request was committed complete, not at the poll that saw it.
  const timing: { started_processing_at: string; finished_processing_at: string }[] = await db
    .knex('privacy_requests')
    .whereIn('id', ids)
    .select('started_processing_at', 'finished_processing_at');
  const finished = Math.max(...timing.map((t) => Date.parse(t.finished_processing_at)));
  const events: { duration_ms: number }[] = await db.knex('privacy_request_events').whereIn('privacy_request_id', ids).whereNotNull('webhook_key').select('duration_ms');
  const report = await receiver.report();
  if (report.calls !== count * HOOKS.length || events.length !== report.calls) {
    throw new Error(`expected ${count * HOOKS.length} webhook calls, the receiver took ${report.calls} and the timelines hold ${events.length}`);
  }
  return {
    calls: report.calls,
    wallMs: finished - started,
    perCallMs: timing.map((t) => (Date.parse(t.finished_processing_at) - Date.parse(t.started_processing_at)) / HOOKS.length),
    roundTripMs: events.map((e) => e.duration_ms),
    turnaroundMs: report.turnaroundsMs,
  };
}

/**
 * The engine without its state: the same runner (executeClaimed) making the same calls, 16
 * requests in flight, but every transition applied to an in-memory row instead of committed, and
 * the webhook lists given instead of read. The distance from here to a database row is what
 * durable execution costs.
 */
async function runStateless(receiver: Receiver, keys: Keys, count: number): Promise<RunResult> {
  const webhooks = (phase: 'pre' | 'post'): RunnableWebhook[] =>
    HOOKS.filter((h) => h.phase === phase).map((h, position) => ({
      id: `pol_${h.key}`,
      key: h.key,
      direction: h.direction,
      position,
      connection_key: `${h.key}_connection`,
      disabled: false,
      timeout_ms: null,
      secrets: { url: hookUrl(receiver.port, h), authorization: AUTHORIZATION },
    }));
  const lists = { pre: webhooks('pre'), post: webhooks('post') };
  const client = new WebhookClient();
  const rows = new Map<string, RequestRow>();
  const roundTripMs: number[] = [];
  const perCallMs: number[] = [];
  const now = new Date().toISOString();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < count; i = next++) {
      const id = `pri_${crypto.randomUUID()}`;
      rows.set(id, {
        id,
        policy_key: 'bench_policy',
        status: 'in_processing',
        identity: JSON.stringify({ email: `bench-${i}@example.com`, phone_number: null }),
        external_id: null,
        requested_at: null,
        created_at: now,
        updated_at: now,
        started_processing_at: now,
        finished_processing_at: null,
        paused_at: null,
        failure_reason: null,
        cursor_step: null,
        cursor_webhook_id: null,
        cursor_position: null,
        pause_webhook_id: null,
        pause_token_jti: null,
        pause_expires_at: null,
        failed_step: null,
        lease_owner: 'bench',
        lease_expires_at: null,
        event_seq: 0,
      });
      const write = (changes: Partial<RequestRow>, events: TimelineEntry[]) => {
        const updated = { ...rows.get(id)!, ...changes };
        rows.set(id, updated);
        for (const e of events) if (e.webhook_key !== null) roundTripMs.push(e.duration_ms);
        return updated;
      };
      const started = performance.now();
      await executeClaimed(
        {
          webhookTimeoutMs: 30_000,
          resumeTimeoutMinutes: 60,
          leaseMs: 30_000,
          keys,
          webhookList: async (_policy, phase) => lists[phase],
          owner: 'bench',
          client,
          commit: async (_id, changes, events) => write(changes, events),
          pause: async (_id, changes, events) => write(changes, events),
          release: async () => write({ lease_owner: null }, []),
          stopping: () => false,
          signal: new AbortController().signal,
        },
        rows.get(id)!,
      );
      if (rows.get(id)!.status !== 'complete') throw new Error(`stateless bench request ended ${rows.get(id)!.status}: ${rows.get(id)!.failure_reason}`);
      perCallMs.push((performance.now() - started) / HOOKS.length);
      rows.delete(id);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const wallMs = performance.now() - started;
  await client.close();
  const report = await receiver.report();
  if (report.calls !== count * HOOKS.length) throw new Error(`stateless: expected ${count * HOOKS.length} calls, the receiver took ${report.calls}`);
  return { calls: report.calls, wallMs, perCallMs, roundTripMs, turnaroundMs: report.turnaroundsMs };
}

/** The same calls (bodies, headers, a reply-to token on two_way pre) by plain fetch, 16 chains at once. */
async function runBaseline(receiver: Receiver, keys: Keys, count: number): Promise<RunResult> {
  const { token } = await issueReplyToken(keys.replyToken, { webhookId: 'pol_bench', privacyRequestId: 'pri_bench' }, 60, new Date());
  const perCallMs: number[] = [];
  const roundTripMs: number[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < count; i = next++) {
      const id = `pri_${crypto.randomUUID()}`;
      const chainStarted = performance.now();
      for (const hook of HOOKS) {
        const headers: Record<string, string> = { 'Content-Type': 'application/json', Authorization: AUTHORIZATION };
        if (hook.phase === 'pre' && hook.direction === 'two_way') {
          headers['reply-to'] = `/privacy-request/${id}/resume`;
          headers['reply-to-token'] = token;
        }
        const body = { privacy_request_id: id, direction: hook.direction, callback_type: hook.phase, identity: { email: `bench-${i}@example.com`, phone_number: null } };
        const callStarted = performance.now();
        const response = await fetch(hookUrl(receiver.port, hook), { method: 'POST', headers, body: JSON.stringify(body) });
        await response.text();
        roundTripMs.push(performance.now() - callStarted);
      }
      perCallMs.push((performance.now() - chainStarted) / HOOKS.length);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const wallMs = performance.now() - started;
  const report = await receiver.report();
  if (report.calls !== count * HOOKS.length) throw new Error(`baseline: expected ${count * HOOKS.length} calls, the receiver took ${report.calls}`);
  return { calls: report.calls, wallMs, perCallMs, roundTripMs, turnaroundMs: report.turnaroundsMs };
}

/** The forked receiver process (bench/engine-receiver.ts). */
class Receiver {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<Receiver> {
    const child = fork(RECEIVER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: ReceiverMessage) => ('port' in m ? resolve(m.port) : reject(new Error('receiver did not report its port'))));
      child.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
    });
    return new Receiver(child, port);
  }

  /** Calls and turnarounds since the last report (the receiver starts afresh). */
  report(): Promise<{ calls: number; turnaroundsMs: number[] }> {
    return new Promise((resolve) => {
      this.child.once('message', (m: ReceiverMessage) => resolve(m as { calls: number; turnaroundsMs: number[] }));
      this.child.send('report');
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}
