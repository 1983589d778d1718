/**
 * The system under simulation, for real: per scenario a throwaway SQLite state with the
 * scenario's manifests applied by the reconciler and the engine's Worker executing requests;
 * for the whole run, the HTTP API on 127.0.0.1 serving the resume route. Nothing here is a
 * stand-in: webhook calls leave through the engine's own client (`globalThis.fetch`), where
 * the runner's MSW server answers them.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createPrivacyRequests, getPrivacyRequest } from '../src/engine/service.js';
import { checkReplyToken, issueReplyToken } from '../src/engine/reply-token.js';
import { Worker } from '../src/engine/worker.js';
import type { DesiredState } from '../src/manifest/types.js';
import { applyManifests } from '../src/reconcile/apply.js';
import { buildServer } from '../src/server/app.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../src/state/database.js';
import { deriveKeys, type Keys } from '../src/state/keys.js';
import type { Scenario } from './scenario.js';
import type { RequestView, SimulationTarget, TargetFactory } from './target.js';

export interface EngineTargetOptions {
  /** Timeout of a webhook call whose connection sets no timeout_ms. */
  webhookTimeoutMs: number;
  /** Reply-to token lifetime (default: the engine's). */
  resumeTimeoutMinutes?: number;
  /** Where the worker reports unexpected errors (default stderr). */
  log?: (message: string) => void;
  /** Folders file refs may read besides their manifest root (`--secrets-dir`). */
  secretsDirs?: readonly string[];
}

interface ScenarioState {
  db: Database;
  keys: Keys;
}

/**
 * What one simulation run shares: a temporary folder, a migrated template database (copied for
 * each scenario: cheaper than migrating each time) and the API server. Building the server
 * costs more than a whole scenario (it compiles every route's schemas), so there is one, and
 * it answers with the state of the scenario running now: scenarios run one at a time.
 */
export class EngineHost {
  private count = 0;

  private constructor(
    private readonly dir: string,
    private readonly template: string,
    private readonly app: FastifyInstance,
    readonly callbackBase: string,
    /** The state the server answers with: the running scenario's. */
    private readonly running: { state: ScenarioState | null },
  ) {}

  static async start(): Promise<EngineHost> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hookctl-simulate-'));
    try {
      const template = path.join(dir, 'template.db');
      await (await openDatabase(sqlite(template))).close();
      const running: { state: ScenarioState | null } = { state: null };
      const active = (): ScenarioState => {
        if (!running.state) throw new Error('no scenario is running');
        return running.state;
      };
      const db: Database = {
        get knex() {
          return active().db.knex;
        },
        dialect: 'sqlite',
        get location() {
          return active().db.location;
        },
        displayUrl: 'sqlite:(the running scenario)',
        close: async () => undefined,
      };
      const keys: Keys = {
        get secrets() {
          return active().keys.secrets;
        },
        get fingerprint() {
          return active().keys.fingerprint;
        },
        get replyToken() {
          return active().keys.replyToken;
        },
        get apiToken() {
          return active().keys.apiToken;
        },
      };
      const app = await buildServer({ db, keys });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      if (typeof address !== 'object' || address === null) throw new Error('the resume server has no TCP address');
      return new EngineHost(dir, template, app, `http://127.0.0.1:${address.port}`, running);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** A target per scenario, on the desired state its manifests declare (see bindManifests). */
  targetFactory(desiredOf: (scenario: Scenario) => DesiredState, opts: EngineTargetOptions): TargetFactory {
    return (scenario) => this.startTarget(desiredOf(scenario), scenario.env, opts);
  }

  /**
   * Secret refs resolve from `env` only, never from the process environment: a scenario says
   * everything its run depends on. `{ file: … }` refs still read their files.
   */
  async startTarget(desired: DesiredState, env: Record<string, string>, opts: EngineTargetOptions): Promise<SimulationTarget> {
    if (this.running.state) throw new Error('a scenario is already running: scenarios run one at a time');
    const dir = path.join(this.dir, `scenario-${++this.count}`);
    await mkdir(dir);
    const file = path.join(dir, 'state.db');
    await copyFile(this.template, file);
    const db = await openDatabase(sqlite(file));
    try {
      // A throwaway state needs no durability: no fsync per commit. (The pool's one connection keeps it.)
      await db.knex.raw('PRAGMA synchronous = OFF');
      const keys = deriveKeys(randomBytes(32));
      await applyManifests(db, keys, desired, { lockTimeoutMs: 5_000, actor: 'simulate', env, secretsDirs: opts.secretsDirs, prune: false, approve: async () => true });
      const worker = new Worker(db, keys, { webhookTimeoutMs: opts.webhookTimeoutMs, resumeTimeoutMinutes: opts.resumeTimeoutMinutes, log: opts.log });
      this.running.state = { db, keys };
      worker.start();
      return new EngineTarget(this.callbackBase, db, keys, worker, async () => {
        this.running.state = null;
        await db.close();
        await rm(dir, { recursive: true, force: true });
      });
    } catch (err) {
      await db.close();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.app.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

class EngineTarget implements SimulationTarget {
  constructor(
    readonly callbackBase: string,
    private readonly db: Database,
    private readonly keys: Keys,
    private readonly worker: Worker,
    private readonly release: () => Promise<void>,
  ) {}

  async submit(policyKey: string, identity: { email?: string; phone_number?: string }): Promise<string> {
    const { succeeded, failed } = await createPrivacyRequests(this.db, [{ policy_key: policyKey, identity }]);
    const created = succeeded[0];
    if (!created) throw new Error(failed[0]?.message ?? 'the engine accepted no request');
    return created.id;
  }

  async get(id: string): Promise<RequestView> {
    return getPrivacyRequest(this.db, id);
  }

  /** Same request and webhook as `token`, issued two minutes ago for one minute. */
  async mintExpiredToken(token: string): Promise<string> {
    const check = await checkReplyToken(this.keys.replyToken, token);
    if (check.kind === 'invalid') throw new Error('cannot re-issue a reply-to token that does not decrypt');
    const { webhook_id: webhookId, privacy_request_id: privacyRequestId } = check.claims;
    const issued = await issueReplyToken(this.keys.replyToken, { webhookId, privacyRequestId }, 1, new Date(Date.now() - 120_000));
    return issued.token;
  }

  /** Calls still held open were ended by the simulation's dispose(); give the worker a moment for them. */
  async close(): Promise<void> {
    await this.worker.stop({ graceMs: 1_000 });
    await this.release();
  }
}

function sqlite(file: string) {
  return parseDatabaseUrl(`sqlite:${file}`, path.dirname(file));
}

/**
 * How long a scenario may take to settle: longer than the longest single webhook call can
 * (the engine's timeout, or a connection's own timeout_ms), plus a minute for scripted delays
 * and resumes. A request that has not settled by then fails its scenario.
 */
export function scenarioDeadlineMs(states: Iterable<DesiredState>, webhookTimeoutMs: number): number {
  let longest = webhookTimeoutMs;
  for (const state of new Set(states)) for (const c of state.connections) longest = Math.max(longest, c.timeout_ms ?? 0);
  return longest + 60_000;
}
