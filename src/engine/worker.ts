import crypto from 'node:crypto';
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { HookctlError } from '../errors.js';
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';
import { claimRequests, findRequest, pauseRequest, releaseRequest, renewLeases } from '../state/request-store.js';
import type { RequestRow } from '../state/request-types.js';
import { DEFAULT_RESUME_TIMEOUT_MINUTES } from './reply-token.js';
import { toView, type RequestView } from './request-views.js';
import { executeClaimed, transitionReport, type ExecutionSettings, type RunContext } from './runner.js';
import type { ExecutionObserver } from './observer.js';
import { WebhookListCache } from './webhook-list-cache.js';
import { GroupCommit } from './group-commit.js';
import { onWorkQueued } from './wake-up.js';
import { expirePausedRequests } from './service.js';
import { DEFAULT_WEBHOOK_TIMEOUT_MS, WebhookClient } from './webhook-client.js';

export interface WorkerOptions extends Partial<ExecutionSettings> {
  /** Requests executed at once by this worker (default 16). */
  concurrency?: number;
  /** How often to look for work queued by other processes (default 200 ms). */
  pollMs?: number;
  /** How often to expire paused requests whose token lifetime has passed (default 1 s). */
  expiryIntervalMs?: number;
  /** Lease owner id; default: host, pid and a random suffix. */
  owner?: string;
  /** Where unexpected errors (database unreachable, bugs) are reported; default stderr. */
  log?: (message: string) => void;
  /** Told of every status change this worker makes and every webhook call (logs, metrics). */
  observer?: ExecutionObserver;
}

export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_POLL_MS = 200;
export const DEFAULT_EXPIRY_INTERVAL_MS = 1_000;

/**
 * Executes queued privacy requests. Work is claimed durably with a lease (owner + expiry,
 * renewed while running): on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several processes
 * share one database and each request runs in one of them; on SQLite with one atomic
 * UPDATE … RETURNING. A killed process's requests are taken over when their lease expires.
 */
export class Worker {
  readonly owner: string;
  private readonly settings: ExecutionSettings;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly expiryIntervalMs: number;
  private readonly log: (message: string) => void;
  private readonly observer: ExecutionObserver | undefined;
  private readonly client = new WebhookClient();
  private readonly commits: GroupCommit;
  private readonly webhookLists: WebhookListCache;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private stopping = false;
  private started = false;
  /** The claim in progress, if any. */
  private ticking: Promise<void> | undefined;
  private wakeRequested = false;
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiring: Promise<unknown> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly db: Database,
    private readonly keys: Keys,
    options: WorkerOptions = {},
  ) {
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
    this.settings = {
      webhookTimeoutMs: options.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
      resumeTimeoutMinutes: options.resumeTimeoutMinutes ?? DEFAULT_RESUME_TIMEOUT_MINUTES,
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
    };
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.expiryIntervalMs = options.expiryIntervalMs ?? DEFAULT_EXPIRY_INTERVAL_MS;
    this.log = options.log ?? ((message) => console.error(message));
    this.observer = options.observer;
    this.commits = new GroupCommit(db);
    this.webhookLists = new WebhookListCache(db, keys);
    // Every call in flight listens on it: as many listeners as the concurrency.
    setMaxListeners(0, this.abort.signal);
  }

  /** Run in the background until stop(): claim on every poll and whenever work is announced. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = onWorkQueued(() => this.notify());
    this.schedule(0);
    this.expiryTimer = setInterval(() => {
      this.expiring ??= this.expire()
        .catch((err: Error) => this.log(`worker ${this.owner}: cannot expire paused requests: ${err.message}`))
        .finally(() => (this.expiring = undefined));
    }, this.expiryIntervalMs);
  }

  /** New work may be there: look now rather than at the next poll. */
  notify(): void {
    if (this.started && !this.stopping) this.schedule(0);
  }

  /**
   * Claim up to the free slots (only request `id`, if given), run them until each settles
   * (complete, error, paused) or is released, and return how many were claimed.
   */
  async runOnce(only?: { id: string }): Promise<number> {
    const rows = await this.claim(this.concurrency - this.inFlight.size, only?.id);
    await Promise.all(rows.map((row) => this.launch(row)));
    return rows.length;
  }

  /** Expire pauses, then run until nothing is claimable (tests, `hookctl run`). */
  async drain(): Promise<void> {
    await this.expire();
    while ((await this.runOnce()) > 0);
  }

  /**
   * Stop claiming. In-flight requests finish their current webhook call and are released
   * with their cursor, for whichever worker claims them next. With `graceMs`, calls still
   * running after it are abandoned (and made again by the next claim).
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearInterval(this.expiryTimer);
    this.unsubscribe?.();
    await this.ticking;
    const running = Promise.allSettled([...this.inFlight.values()]);
    if (options.graceMs !== undefined) {
      const grace = sleep(options.graceMs, undefined, { ref: false }).then(() => this.abort.abort(new Error('worker stopped')));
      await Promise.race([running, grace]);
    }
    await running;
    await this.expiring;
    await this.client.close();
  }

  private expire(): Promise<number> {
    return expirePausedRequests(this.db, new Date(), (rows) => rows.forEach((row) => this.observer?.transition(transitionReport(row, 'expired'))));
  }

  private schedule(delayMs: number): void {
    if (this.ticking) {
      if (delayMs === 0) this.wakeRequested = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    try {
      const rows = await this.claim(this.concurrency - this.inFlight.size);
      for (const row of rows) void this.launch(row);
    } catch (err) {
      this.log(`worker ${this.owner}: ${(err as Error).message}`);
    } finally {
      this.ticking = undefined;
      if (!this.stopping) this.schedule(this.wakeRequested ? 0 : this.pollMs);
      this.wakeRequested = false;
    }
  }

  /**
   * Lease up to `limit` claimable requests (pending, or in progress with an expired or no
   * lease) in one statement; a pending one starts processing. Oldest first.
   */
  private async claim(limit: number, id?: string): Promise<RequestRow[]> {
    if (limit <= 0 || this.stopping) return [];
    const now = new Date();
    const rows = await claimRequests(this.db, { owner: this.owner, limit, leaseMs: this.settings.leaseMs, id, now });
    // started_processing_at is set by this claim (to `now`) only on a request that was pending.
    for (const row of rows) this.observer?.transition(transitionReport(row, row.started_processing_at === now.toISOString() ? 'started' : 'continued'));
    return rows;
  }

  private launch(row: RequestRow): Promise<void> {
    const context: RunContext = {
      ...this.settings,
      keys: this.keys,
      webhookList: (policyKey, phase, serial) => this.webhookLists.read(policyKey, phase, serial),
      owner: this.owner,
      client: this.client,
      commit: async (id, changes, events) => (await this.commits.transition({ guard: { id, lease_owner: this.owner }, changes, events }))[0],
      pause: (id, changes, events) => pauseRequest(this.db, this.owner, id, changes, events),
      release: (id) => releaseRequest(this.db, this.owner, id),
      stopping: () => this.stopping,
      signal: this.abort.signal,
      observer: this.observer,
    };
    const run = executeClaimed(context, row)
      .catch((err: Error) => this.log(`worker ${this.owner}: privacy request ${row.id}: ${err.message}`))
      .finally(() => {
        this.inFlight.delete(row.id);
        if (this.inFlight.size === 0) {
          clearInterval(this.renewTimer);
          this.renewTimer = undefined;
        }
        this.notify();
      });
    this.inFlight.set(row.id, run);
    this.renewTimer ??= setInterval(() => void this.renewLeases(), Math.max(this.settings.leaseMs / 3, 10));
    return run;
  }

  /** Keep the leases of running requests alive (one statement for all of them). */
  private async renewLeases(): Promise<void> {
    try {
      await renewLeases(this.db, this.owner, [...this.inFlight.keys()], this.settings.leaseMs);
    } catch (err) {
      this.log(`worker ${this.owner}: cannot renew leases: ${(err as Error).message}`);
    }
  }
}

/**
 * `hookctl run`: execute one request in this process until it is complete, in error or
 * paused. If another process (a `serve` on the same database) holds it, wait for that.
 */
export async function runToSettled(db: Database, keys: Keys, id: string, options: WorkerOptions & { pausedWaitMs?: number } = {}): Promise<RequestView> {
  const worker = new Worker(db, keys, { ...options, concurrency: 1 });
  // A pause is settled unless the caller waits for a resume, which a `hookctl serve` on the same
  // state accepts; the request is then pending again and runs on here (or in that server).
  const pausedUntil = Date.now() + (options.pausedWaitMs ?? 0);
  try {
    for (;;) {
      const claimed = await worker.runOnce({ id });
      const row = await findRequest(db, id);
      if (!row) throw new HookctlError(`no privacy request with id '${id}'`);
      if (row.status === 'complete' || row.status === 'error') return await toView(db, row);
      if (row.status === 'paused' && Date.now() >= pausedUntil) return await toView(db, row);
      if (claimed === 0) await sleep(options.pollMs ?? DEFAULT_POLL_MS);
    }
  } finally {
    await worker.stop();
  }
}
