/**
 * Applying: one transaction under the state lock. `apply` plans inside the lock (like terraform,
 * a second apply waits and then plans against what the first wrote); `apply --plan` refuses a
 * saved plan whose state serial or secrets moved (exit 6).
 */
import type { Knex } from 'knex';
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';
import { encryptJson } from '../state/crypto.js';
import { withStateLock } from '../state/lock.js';
import {
  appendRevision,
  bumpSerial,
  deleteConnections,
  deletePolicies,
  readState,
  saveWebhookLists,
  upsertConnections,
  upsertPolicies,
  type StoredState,
} from '../state/config-store.js';
import { SECRET_FIELDS } from '../model/types.js';
import type { DesiredState } from '../manifest/types.js';
import { describeSecretInput } from '../manifest/secrets.js';
import { ExitCode, HookctlError } from '../errors.js';
import type { Plan } from './plan-types.js';
import { computePlan } from './diff.js';
import { resolveSecrets, type ResolvedSecrets } from './secrets.js';

export interface ApplyOptions {
  lockTimeoutMs: number;
  actor: string;
  env: Record<string, string | undefined>;
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
}

export async function applyManifests(db: Database, keys: Keys, desired: DesiredState, opts: ApplyManifestsOptions): Promise<ApplyResult> {
  const resolved = resolveSecrets(desired.connections.map((c) => [c.key, c.secrets]), keys, opts.env);
  return withStateLock(db, opts.lockTimeoutMs, async (trx) => {
    const state = await readState(trx);
    const plan = computePlan({ desired, fingerprints: resolved.fingerprints, stored: state, prune: opts.prune, now: new Date().toISOString() });
    if (plan.changes.length === 0 || !(await opts.approve(plan))) return { plan, serial: state.serial, applied: false };
    return { plan, serial: await writePlan(trx, keys, plan, state, resolved, opts), applied: true };
  });
}

export async function applySavedPlan(db: Database, keys: Keys, plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  // Secrets are re-resolved now: the plan holds only refs and fingerprints.
  const resolved = resolveSecrets(Object.entries(plan.secret_refs), keys, opts.env);
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
  return withStateLock(db, opts.lockTimeoutMs, async (trx) => {
    const state = await readState(trx);
    if (state.serial !== plan.state_serial) {
      throw new HookctlError(
        `saved plan is stale: the state changed since the plan was made (serial ${plan.state_serial} → ${state.serial})`,
        ExitCode.stalePlan,
        'run hookctl plan again',
      );
    }
    if (plan.changes.length === 0) return { plan, serial: state.serial, applied: false };
    return { plan, serial: await writePlan(trx, keys, plan, state, resolved, opts), applied: true };
  });
}

async function writePlan(trx: Knex.Transaction, keys: Keys, plan: Plan, state: StoredState, resolved: ResolvedSecrets, opts: ApplyOptions): Promise<number> {
  const now = new Date().toISOString();
  const { writes } = plan;
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
