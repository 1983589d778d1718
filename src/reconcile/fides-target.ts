/**
 * A Fides server as the target of plan and apply. Reading what is there is fides-read.ts; the
 * diff is the same pure computePlan as for hookctl's own state; carrying a plan out is here.
 * Fides has no transactions, so apply writes in an order in which every prefix is a valid
 * configuration, stops at the first failure, and records what it did (a partial revision):
 * the next plan shows what remains and the next apply converges.
 */
import type { Knex } from 'knex';
import { ExitCode, HookctlError } from '../errors.js';
import type { DesiredState } from '../manifest/types.js';
import { PHASES, type Phase, type Webhook } from '../model/types.js';
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';
import { withStateLock } from '../state/lock.js';
import {
  appendTargetRevision,
  forgetTargetResource,
  readTargetResources,
  recordTargetResource,
  readStateId,
  targetSerial,
  type TargetResource,
} from '../state/fides-targets.js';
import { FidesCallError, type FidesClient } from '../fides/client.js';
import { computePlan } from './diff.js';
import { summarize, type ResourceChange } from '../model/changes.js';
import type { Plan, PlannedConnection } from './plan-types.js';
import { resourceId } from './provenance.js';
import { resolveDeclaredSecrets, type ResolvedSecrets } from './secrets.js';
import { connectionDigest, listDigest, listId, policyDigest, readLive, type LiveState } from './fides-read.js';
import { PHASE_NAMES } from '../model/phases.js';
import { resolveSavedPlanSecrets } from './apply.js';

/** Fides' limit of items in one bulk PATCH. */
const PATCH_CHUNK = 50;
/** DSR policy DELETE exists from this version on (older servers answer 405). */
const POLICY_DELETE_SINCE = [2, 80];

export interface FidesPlanOptions {
  prune: boolean;
  env: Record<string, string | undefined>;
  secretsDirs?: readonly string[];
}

/** Reads the target's bookkeeping and the live server, and plans. */
export async function planFides(q: Knex, keys: Keys, client: FidesClient, desired: DesiredState, opts: FidesPlanOptions): Promise<{ plan: Plan; live: LiveState; resolved: ResolvedSecrets }> {
  const resolved = resolveDeclaredSecrets(desired, keys, opts);
  const live = await readTarget(q, keys, client);
  return { plan: planAgainst(desired, resolved, live, opts.prune), live, resolved };
}

/**
 * What `export --fides-url` writes: the https connections, and the policies that have webhooks
 * or that hookctl created there (a server's other policies are not webhook configuration).
 */
export async function readFidesForExport(q: Knex, keys: Keys, client: FidesClient): Promise<LiveState> {
  const live = await readTarget(q, keys, client);
  const { stored } = live;
  for (const [key, policy] of stored.policies) {
    const hasWebhooks = PHASES.some((phase) => (stored.webhooks[phase].get(key) ?? []).length > 0);
    if (hasWebhooks || policy.origin === 'manifest') continue;
    stored.policies.delete(key);
    for (const phase of PHASES) stored.webhooks[phase].delete(key);
  }
  return live;
}

async function readTarget(q: Knex | Knex.Transaction, keys: Keys, client: FidesClient): Promise<LiveState> {
  const records = await readTargetResources(q, client.target);
  const serial = await targetSerial(q, client.target);
  const stateId = await readStateId(q);
  return readLive(client, keys, { serial, stateId }, records);
}

function planAgainst(desired: DesiredState, resolved: ResolvedSecrets, live: LiveState, prune: boolean): Plan {
  const plan = computePlan({ desired, fingerprints: resolved.fingerprints, stored: live.stored, prune, now: new Date().toISOString(), provenance: live.provenance });
  const live_digests: Record<string, string | null> = {};
  for (const c of plan.changes) {
    const id = resourceId(c);
    live_digests[id] = live.digests.get(id) ?? null;
  }
  const notes: string[] = [];
  if (plan.writes.delete_policies.length > 0 && !versionAtLeast(live.version, POLICY_DELETE_SINCE)) {
    notes.push(
      `${live.target} runs ${live.version === null ? 'fidesops' : `Fides ${live.version}`}, which cannot delete policies (DELETE came in 2.80): ` +
        `${plan.writes.delete_policies.join(', ')} will be emptied and kept`,
    );
  }
  return { ...plan, fides: { target: live.target, server_version: live.version, live_digests, notes } };
}

export interface StepReport {
  status: 'done' | 'failed' | 'not attempted' | 'kept';
  what: string;
  /** The server's message (failed, kept). */
  message?: string;
}

export interface FidesApplyResult {
  plan: Plan;
  applied: boolean;
  steps: StepReport[];
  /** The revision recorded (0: none, nothing was applied). */
  serial: number;
  failed: boolean;
}

export interface FidesApplyOptions extends FidesPlanOptions {
  lockTimeoutMs: number;
  actor: string;
  onLockWait?: () => void;
  /** Called with the plan before anything is written; false cancels. */
  approve(plan: Plan): Promise<boolean>;
}

/**
 * Plan and apply under the target's lock (taken first, as Terraform does, so that what was
 * approved is what is written).
 */
export async function applyFides(db: Database, keys: Keys, client: FidesClient, desired: DesiredState, opts: FidesApplyOptions): Promise<FidesApplyResult> {
  const resolved = resolveDeclaredSecrets(desired, keys, opts);
  return withStateLock(
    db,
    opts.lockTimeoutMs,
    async (trx) => {
      const live = await readTarget(trx, keys, client);
      const plan = planAgainst(desired, resolved, live, opts.prune);
      if (plan.changes.length === 0 || !(await opts.approve(plan))) return { plan, applied: false, steps: [], serial: live.stored.serial, failed: false };
      return carryOut(trx, client, plan, live, resolved, opts.actor);
    },
    { holder: { actor: opts.actor, operation: 'apply' }, onWait: opts.onLockWait, scope: client.target },
  );
}

/** `apply --plan` against a server: its target, its secrets and the live resources it changes must be as they were. */
export async function applySavedFidesPlan(
  db: Database,
  keys: Keys,
  client: FidesClient,
  plan: Plan,
  opts: Omit<FidesApplyOptions, 'approve' | 'prune'>,
): Promise<FidesApplyResult> {
  if (!plan.fides) {
    throw new HookctlError('saved plan was made against hookctl\'s own state, not a Fides server', ExitCode.stalePlan, `plan against the server: hookctl plan --fides-url ${client.target} --out FILE`);
  }
  if (plan.fides.target !== client.target) {
    throw new HookctlError(`saved plan was made against ${plan.fides.target}, not ${client.target}`, ExitCode.stalePlan, 'apply it to the server it was made for, or plan again');
  }
  const resolved = resolveSavedPlanSecrets(plan, keys, opts);
  return withStateLock(
    db,
    opts.lockTimeoutMs,
    async (trx) => {
      const live = await readTarget(trx, keys, client);
      if (live.stored.state_id !== plan.state_id) {
        throw new HookctlError(
          `saved plan was made with another bookkeeping database (${plan.state_id}; this one is ${live.stored.state_id})`,
          ExitCode.stalePlan,
          'plan with this --database-url: hookctl plan --fides-url … --out FILE',
        );
      }
      const moved = Object.entries(plan.fides!.live_digests).filter(([id, d]) => (live.digests.get(id) ?? null) !== d);
      if (moved.length > 0) {
        throw new HookctlError(
          `saved plan is stale: changed on ${client.target} since the plan was made: ${moved.map(([id]) => id).join(', ')}`,
          ExitCode.stalePlan,
          'run hookctl plan --fides-url again',
        );
      }
      if (plan.changes.length === 0) return { plan, applied: false, steps: [], serial: live.stored.serial, failed: false };
      return carryOut(trx, client, plan, live, resolved, opts.actor);
    },
    { holder: { actor: opts.actor, operation: 'apply --plan' }, onWait: opts.onLockWait, scope: client.target },
  );
}

interface Step {
  what: string;
  /** The plan's changes this step carries out (recorded in the revision once it is done). */
  changes: ResourceChange[];
  /** Returns a message when the server kept the resource (not a failure). */
  run(): Promise<string | void>;
}

async function carryOut(trx: Knex.Transaction, client: FidesClient, plan: Plan, live: LiveState, resolved: ResolvedSecrets, actor: string): Promise<FidesApplyResult> {
  const steps = planSteps(trx, client, plan, live, resolved);
  const reports: StepReport[] = [];
  const done: ResourceChange[] = [];
  let failed = false;
  for (const step of steps) {
    if (failed) {
      reports.push({ status: 'not attempted', what: step.what });
      continue;
    }
    try {
      const kept = await step.run();
      if (typeof kept === 'string') reports.push({ status: 'kept', what: step.what, message: kept });
      else {
        reports.push({ status: 'done', what: step.what });
        done.push(...step.changes);
      }
    } catch (err) {
      // Whatever the failure, what was done is recorded below, so the next plan starts from it.
      failed = true;
      reports.push({ status: 'failed', what: step.what, message: err instanceof FidesCallError ? `${err.status}: ${err.serverMessage}` : (err as Error).message });
    }
  }
  const serial = await appendTargetRevision(trx, client.target, {
    applied_at: new Date().toISOString(),
    actor,
    manifest_digest: plan.manifest_digest,
    summary: summarize(done),
    changes: done,
    partial: failed,
  });
  return { plan, applied: true, steps: reports, serial, failed };
}

/** The safe order: connections, their secrets, policies, lists (givers before takers), then prunes. */
function planSteps(trx: Knex.Transaction, client: FidesClient, plan: Plan, live: LiveState, resolved: ResolvedSecrets): Step[] {
  const { writes } = plan;
  const target = client.target;
  const record = (id: string, patch: Partial<TargetResource>) => recordTargetResource(trx, target, id, patch);
  const changeOf = (kind: 'connection' | 'policy', key: string) => plan.changes.find((c) => c.kind === kind && c.key === key && c.action !== 'delete');
  const steps: Step[] = [];

  // 1. Connections whose non-secret fields change (or that are new), 50 a call.
  const patched = writes.connections.filter((c) => {
    const change = changeOf('connection', c.key);
    return change?.action === 'create' || change?.fields.some((f) => !f.field.startsWith('secrets.'));
  });
  for (let i = 0; i < patched.length; i += PATCH_CHUNK) {
    const chunk = patched.slice(i, i + PATCH_CHUNK);
    steps.push({
      what: `PATCH /api/v1/connection (${names(chunk.map((c) => c.key), 'connection')})`,
      changes: chunk.filter((c) => !c.write_secrets).map((c) => changeOf('connection', c.key)!),
      run: async () => {
        const body = chunk.map(connectionItem);
        const res = await client.call<BulkAnswer>('PATCH', '/api/v1/connection', { json: body, schema: 'bulk' });
        refuseFailedItems(res.body, 'PATCH /api/v1/connection');
        for (const c of chunk) {
          const created = changeOf('connection', c.key)?.action === 'create';
          await record(`connection/${c.key}`, { ...(created && { created: true }), digest: connectionDigest(c) });
        }
      },
    });
  }

  // 2. Secrets, one connection a call.
  for (const c of writes.connections.filter((x) => x.write_secrets)) {
    steps.push({
      what: `PUT /api/v1/connection/${c.key}/secret`,
      changes: [changeOf('connection', c.key)!],
      run: async () => {
        const values = resolved.values.get(c.key)!;
        await client.call('PUT', `/api/v1/connection/${encodeURIComponent(c.key)}/secret?verify=false`, { json: { url: values.url, authorization: values.authorization }, schema: 'secret-put' });
        const fp = resolved.fingerprints.get(c.key)!;
        await record(`connection/${c.key}`, { fp_url: fp.url, fp_authorization: fp.authorization, digest: connectionDigest(c) });
      },
    });
  }

  // 3. New and renamed policies; updates send back what Fides would otherwise clear.
  for (let i = 0; i < writes.policies.length; i += PATCH_CHUNK) {
    const chunk = writes.policies.slice(i, i + PATCH_CHUNK);
    steps.push({
      what: `PATCH ${live.policyPrefix} (${names(chunk.map((p) => p.key), 'policy', 'policies')})`,
      changes: chunk.map((p) => changeOf('policy', p.key)!),
      run: async () => {
        const body = chunk.map((p) => {
          const before = live.policies.get(p.key);
          return {
            key: p.key,
            name: p.name,
            ...(before && 'drp_action' in before && { drp_action: before.drp_action }),
            ...(before && 'execution_timeframe' in before && { execution_timeframe: before.execution_timeframe }),
          };
        });
        const res = await client.call<BulkAnswer>('PATCH', live.policyPrefix, { json: body, schema: 'bulk' });
        refuseFailedItems(res.body, `PATCH ${live.policyPrefix}`);
        for (const p of chunk) {
          const created = changeOf('policy', p.key)?.action === 'create';
          await record(`policy/${p.key}`, { ...(created && { created: true }), digest: policyDigest(p.name) });
        }
      },
    });
  }

  // 4. Lists, whole; 5. pruned policies' lists emptied.
  const pruned = new Set(writes.delete_policies);
  const listWrites = [
    ...writes.lists.map((l) => ({ policy_key: l.policy_key, phase: l.phase, next: l.next })),
    ...PHASES.flatMap((phase) =>
      writes.delete_policies.filter((k) => (live.stored.webhooks[phase].get(k) ?? []).length > 0).map((k) => ({ policy_key: k, phase, next: [] as Webhook[] })),
    ),
  ];
  for (const put of orderListPuts(live, listWrites)) {
    const final = !put.intermediate;
    steps.push({
      what: `PUT ${live.policyPrefix}/${put.policy_key}/webhook/${PHASE_NAMES[put.phase].pathSegment} (${put.items.length} webhook${put.items.length === 1 ? '' : 's'}${final ? '' : ', first without the webhooks it takes over'})`,
      changes: final && !pruned.has(put.policy_key) ? plan.changes.filter((c) => c.kind === 'webhook' && c.policy_key === put.policy_key && c.phase === put.phase) : [],
      run: async () => {
        const body = put.items.map((w) => ({ key: w.key, name: w.name, connection_config_key: w.connection_config_key, direction: w.direction }));
        const res = await client.call<Webhook[]>('PUT', `${live.policyPrefix}/${encodeURIComponent(put.policy_key)}/webhook/${PHASE_NAMES[put.phase].pathSegment}`, { json: body, schema: 'webhook-list' });
        const saved = (res.body as unknown as { key: string; name: string; direction: Webhook['direction']; connection_config: { key: string } }[]).map((w) => ({
          key: w.key,
          name: w.name,
          direction: w.direction,
          connection_config_key: w.connection_config.key,
        }));
        await record(listId(put.policy_key, put.phase), { digest: listDigest(saved) });
      },
    });
  }

  // 5. Pruned policies, then pruned connections.
  for (const key of writes.delete_policies) {
    steps.push({
      what: `DELETE ${live.policyPrefix}/${key}`,
      changes: plan.changes.filter((c) => (c.kind === 'policy' && c.key === key && c.action === 'delete') || (c.kind === 'webhook' && c.policy_key === key)),
      run: async () => {
        const res = await deleteTolerating(client, `${live.policyPrefix}/${encodeURIComponent(key)}`, [409, 405]);
        if (res.kept) {
          // The server keeps it (in use, or no DELETE on this version): hookctl stops managing it.
          await record(`policy/${key}`, { created: false, digest: null });
          return res.kept;
        }
        for (const id of [`policy/${key}`, listId(key, 'pre'), listId(key, 'post')]) await forgetTargetResource(trx, target, id);
      },
    });
  }
  for (const key of writes.delete_connections) {
    steps.push({
      what: `DELETE /api/v1/connection/${key}`,
      changes: plan.changes.filter((c) => c.kind === 'connection' && c.key === key && c.action === 'delete'),
      run: async () => {
        await deleteTolerating(client, `/api/v1/connection/${encodeURIComponent(key)}`, []);
        await forgetTargetResource(trx, target, `connection/${key}`);
      },
    });
  }
  return steps;
}

interface BulkAnswer {
  succeeded: unknown[];
  failed: { message: string }[];
}

/** An item in `failed` of a 200 is a failure like any other (the items before it are committed). */
function refuseFailedItems(answer: BulkAnswer, call: string): void {
  if (answer.failed.length === 0) return;
  const more = answer.failed.length > 1 ? ` (and ${answer.failed.length - 1} more)` : '';
  throw new HookctlError(`${call}: an item failed: ${answer.failed[0]!.message.slice(0, 300)}${more}`);
}

/** DELETE where 404 means already gone; `keptOn` statuses mean the server keeps it (with its reason). */
async function deleteTolerating(client: FidesClient, path: string, keptOn: number[]): Promise<{ kept?: string }> {
  try {
    await client.call('DELETE', path, { accept: [200, 204, 404] });
    return {};
  } catch (err) {
    if (err instanceof FidesCallError && keptOn.includes(err.status)) return { kept: `${err.status}: ${err.serverMessage}` };
    throw err;
  }
}

function connectionItem(c: PlannedConnection) {
  return {
    key: c.key,
    name: c.name,
    connection_type: c.connection_type,
    access: c.access,
    disabled: c.disabled,
    // Fides' PATCH cannot clear a field: one left out of the manifest stays as it is.
    ...(c.description !== null && { description: c.description }),
    ...(c.timeout_ms !== null && { timeout_ms: c.timeout_ms }),
  };
}

interface ListPut {
  policy_key: string;
  phase: Phase;
  items: Webhook[];
  intermediate: boolean;
}

/**
 * The order of the list PUTs. Fides refuses a list that takes a webhook key another list holds,
 * or a name another webhook key holds (its own list included: names are checked before anything
 * is removed). So, per phase, a list goes once nothing it takes is held elsewhere; when every
 * remaining list waits on another (a swap between lists, or a key renamed under the same name),
 * one is first written without the webhooks it takes, which frees what the others wait for.
 */
export function orderListPuts(live: LiveState, writes: { policy_key: string; phase: Phase; next: Webhook[] }[]): ListPut[] {
  const puts: ListPut[] = [];
  for (const phase of PHASES) {
    const current = new Map<string, readonly Webhook[]>();
    const keyHolder = new Map<string, string>();
    const nameHolder = new Map<string, string>();
    const hold = (policy: string, list: readonly Webhook[]) => {
      for (const w of current.get(policy) ?? []) {
        keyHolder.delete(w.key);
        nameHolder.delete(w.name);
      }
      current.set(policy, list);
      for (const w of list) {
        keyHolder.set(w.key, policy);
        nameHolder.set(w.name, w.key);
      }
    };
    for (const [policy, list] of live.stored.webhooks[phase]) hold(policy, list);
    const blocked = (policy: string, w: Webhook) => {
      const keyOwner = keyHolder.get(w.key);
      const nameOwnerKey = nameHolder.get(w.name);
      return (keyOwner !== undefined && keyOwner !== policy) || (nameOwnerKey !== undefined && nameOwnerKey !== w.key);
    };
    const pending = writes.filter((w) => w.phase === phase);
    while (pending.length > 0) {
      const ready = pending.findIndex((l) => l.next.every((w) => !blocked(l.policy_key, w)));
      const l = pending[Math.max(ready, 0)]!;
      const first = l.next.filter((w) => !blocked(l.policy_key, w));
      const before = current.get(l.policy_key) ?? [];
      // Nothing to free by a first PUT: write the list whole and let the server answer.
      const freesNothing = first.length === before.length && first.every((w, i) => w.key === before[i]!.key);
      if (ready >= 0 || freesNothing) {
        pending.splice(Math.max(ready, 0), 1);
        puts.push({ policy_key: l.policy_key, phase, items: l.next, intermediate: false });
        hold(l.policy_key, l.next);
      } else {
        puts.push({ policy_key: l.policy_key, phase, items: first, intermediate: true });
        hold(l.policy_key, first);
      }
    }
  }
  return puts;
}

function names(keys: string[], one: string, many = `${one}s`): string {
  const shown = keys.slice(0, 3).join(', ');
  return `${keys.length} ${keys.length === 1 ? one : many}: ${shown}${keys.length > 3 ? ', …' : ''}`;
}

function versionAtLeast(version: string | null, min: number[]): boolean {
  if (version === null) return false;
  const parts = version.split(/[^0-9]+/).filter((p) => p !== '').map(Number);
  // A dev tree reports 0.0.0+dev: take it as current.
  if (parts.every((p) => p === 0)) return true;
  for (let i = 0; i < min.length; i++) {
    const p = parts[i] ?? 0;
    if (p !== min[i]) return p > min[i]!;
  }
  return true;
}

