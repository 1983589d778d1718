/**
 * Applying: one transaction under the state lock. `apply` plans and asks outside the lock (a
 * reviewer may take their time without blocking serve or other writers), then takes the lock
 * and writes only if the state did not move meanwhile; `apply --plan` refuses a saved plan whose
 * state, serial or secrets moved (exit 6).
 */
import type { Knex } from 'knex';
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';
import { encryptJson } from '../state/crypto.js';
import { withStateLock, type LockOptions } from '../state/lock.js';
import {
  bumpSerial,
  deleteConnections,
  deletePolicies,
  readState,
  refreshFingerprints,
  saveWebhookLists,
  storeFingerprints,
  upsertConnections,
  upsertPolicies,
  type StoredState,
} from '../state/config-store.js';
import { appendRevision } from '../state/history.js';
import { inSnapshot } from '../state/queryable.js';
import { SECRET_FIELDS } from '../model/types.js';
import type { DesiredState } from '../manifest/types.js';
import { describeSecretInput } from '../manifest/secrets.js';
import { ExitCode, HookctlError } from '../errors.js';
import type { Plan, SecretFingerprints } from './plan-types.js';
import { computePlan } from './diff.js';
import { readProvenance } from './provenance.js';
import { resolveDeclaredSecrets, resolveSecrets, type ResolvedSecrets } from './secrets.js';

export interface ApplyOptions {
  lockTimeoutMs: number;
  actor: string;
  env: Record<string, string | undefined>;
  /** Folders file refs may read besides their manifest root (`--secrets-dir`). */
  secretsDirs?: readonly string[];
  /** Called when the state lock is not had at once (another writer holds it). */
  onLockWait?: () => void;
}

export interface ApplyResult {
  plan: Plan;
  /** The new state serial, or the unchanged one when nothing was applied. */
  serial: number;
  applied: boolean;
}

export interface ApplyManifestsOptions extends ApplyOptions {
  prune: boolean;
  /** Called with the plan before anything is written; false cancels (nothing written). */
  approve(plan: Plan): Promise<boolean>;
  /**
   * The state moved between approval and the lock (another apply landed). With a callback, the
   * plan is made again under the lock and applied as is (auto-approve: the callback shows it);
   * without one, apply refuses with exit 6 (an interactive approval covered the old plan only).
   */
  onReplan?(plan: Plan): void;
}

export async function applyManifests(db: Database, keys: Keys, desired: DesiredState, opts: ApplyManifestsOptions): Promise<ApplyResult> {
  const resolved = resolveDeclaredSecrets(desired, keys, opts);
  const planAgainst = async (q: Knex | Knex.Transaction, stored: StoredState) =>
    computePlan({ desired, fingerprints: resolved.fingerprints, stored, prune: opts.prune, now: new Date().toISOString(), provenance: await readProvenance(q, keys, stored) });

  const reviewed = await inSnapshot(db.knex, async (trx) => planAgainst(trx, await readStateOf(trx, keys)));
  if (reviewed.changes.length === 0 || !(await opts.approve(reviewed))) return { plan: reviewed, serial: reviewed.state_serial, applied: false };
  return withStateLock(db, opts.lockTimeoutMs, async (trx) => {
    const state = await readStateOf(trx, keys);
    let plan = reviewed;
    if (state.serial !== reviewed.state_serial) {
      if (!opts.onReplan) throw stateMoved(reviewed.state_serial, state.serial, 'the state changed while the plan was reviewed');
      plan = await planAgainst(trx, state);
      opts.onReplan(plan);
      if (plan.changes.length === 0) return { plan, serial: state.serial, applied: false };
    }
    return { plan, serial: await writePlan(trx, keys, plan, state, resolved, opts), applied: true };
  }, lockOptions(opts, 'apply'));
}

export async function applySavedPlan(db: Database, keys: Keys, plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  if (plan.fides) {
    throw new HookctlError(`saved plan was made against the Fides server ${plan.fides.target}, not this state`, ExitCode.stalePlan, `apply it there: hookctl apply --plan FILE --fides-url ${plan.fides.target}`);
  }
  // Secrets are re-resolved now: the plan holds only refs and fingerprints.
  const resolved = resolveSavedPlanSecrets(plan, keys, opts);
  return withStateLock(db, opts.lockTimeoutMs, async (trx) => {
    const state = await readStateOf(trx, keys);
    if (state.state_id !== plan.state_id) {
      throw new HookctlError(
        `saved plan was made against another state database (${plan.state_id}; this one is ${state.state_id})`,
        ExitCode.stalePlan,
        'plan against this state: hookctl plan --out FILE',
      );
    }
    if (state.serial !== plan.state_serial) throw stateMoved(plan.state_serial, state.serial, 'saved plan is stale: the state changed since the plan was made');
    if (plan.changes.length === 0) return { plan, serial: state.serial, applied: false };
    return { plan, serial: await writePlan(trx, keys, plan, state, resolved, opts), applied: true };
  }, lockOptions(opts, 'apply --plan'));
}

/** A saved plan's secrets resolved again, refused (exit 6) where one no longer has the fingerprint the plan was made with. */
export function resolveSavedPlanSecrets(plan: Plan, keys: Keys, opts: Pick<ApplyOptions, 'env' | 'secretsDirs'>): ResolvedSecrets {
  const resolved = resolveSecrets(Object.entries(plan.secret_refs), keys, opts.env, opts.secretsDirs);
  for (const [connection, planned] of Object.entries(plan.secret_fingerprints)) {
    for (const field of SECRET_FIELDS) {
      if (resolved.fingerprints.get(connection)?.[field] !== planned[field]) {
        const ref = describeSecretInput(plan.secret_refs[connection]![field]);
        throw new HookctlError(
          `saved plan is stale: secret ${ref} (connection '${connection}', secrets.${field}) changed since the plan was made`,
          ExitCode.stalePlan,
          'run hookctl plan again',
        );
      }
    }
  }
  return resolved;
}

function lockOptions(opts: ApplyOptions, operation: string): LockOptions {
  return { holder: { actor: opts.actor, operation }, onWait: opts.onLockWait };
}

/** The state with every stored secret fingerprint in the current form (see refreshFingerprints). */
async function readStateOf(q: Knex | Knex.Transaction, keys: Keys): Promise<StoredState & { refreshed: Map<string, SecretFingerprints> }> {
  const state = await readState(q);
  return { ...state, refreshed: refreshFingerprints(keys, state.connections) };
}

function stateMoved(planned: number, now: number, what: string): HookctlError {
  return new HookctlError(`${what} (serial ${planned} → ${now}); nothing was applied`, ExitCode.stalePlan, 'run hookctl plan again');
}

async function writePlan(
  trx: Knex.Transaction,
  keys: Keys,
  plan: Plan,
  state: StoredState & { refreshed: Map<string, SecretFingerprints> },
  resolved: ResolvedSecrets,
  opts: ApplyOptions,
): Promise<number> {
  const now = new Date().toISOString();
  const { writes } = plan;
  // Fingerprints of the old kind are replaced as the apply goes by: the secrets stay as they are.
  await storeFingerprints(trx, state.refreshed);
  await upsertConnections(
    trx,
    writes.connections.map(({ write_secrets, ...config }) => ({
      config,
      origin: 'manifest' as const,
      ...(write_secrets && {
        secrets: { encrypted: encryptJson(keys.secrets, resolved.values.get(config.key)), fingerprints: resolved.fingerprints.get(config.key)! },
      }),
    })),
    now,
  );
  await upsertPolicies(trx, writes.policies.map((policy) => ({ policy, origin: 'manifest' as const })), now);
  await saveWebhookLists(
    trx,
    writes.lists.map((l) => ({ policy_key: l.policy_key, phase: l.phase, current: state.webhooks[l.phase].get(l.policy_key) ?? [], next: l.next })),
    now,
  );
  await deletePolicies(trx, writes.delete_policies);
  await deleteConnections(trx, writes.delete_connections);
  const serial = await bumpSerial(trx);
  await appendRevision(trx, {
    serial,
    applied_at: now,
    actor: opts.actor,
    manifest_digest: plan.manifest_digest,
    summary: plan.summary,
    changes: plan.changes,
  });
  return serial;
}
