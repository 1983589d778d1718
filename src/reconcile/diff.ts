/**
 * Desired state (manifests) × stored state → plan. Pure: no I/O, no secret values (secrets
 * arrive as keyed fingerprints). Webhook lists are diffed by key with move detection, and every
 * managed list is checked with the same PUT semantics the HTTP API uses.
 */
import type { DesiredConnection, DesiredPolicy, DesiredState, DesiredWebhook } from '../manifest/types.js';
import type { StoredConnection, StoredState } from '../state/config-store.js';
import { indexOwners, putWebhookList, type PhaseOwners } from '../model/webhook-lists.js';
import { ConnectionInUseError, FidesError } from '../model/errors.js';
import { connectionUsers } from '../model/connection-users.js';
import { connectionConfig, connectionFieldChanges, diffList, summarize, type FieldChange, type ResourceChange } from '../model/changes.js';
import { listField } from '../model/phases.js';
import { PHASES, SECRET_FIELDS, type Phase, type StoredWebhook, type Webhook } from '../model/types.js';
import { HookctlError, ExitCode } from '../errors.js';
import { PLAN_FORMAT_VERSION, type Plan, type PlannedList, type SecretFingerprints } from './plan-types.js';
import { NO_PROVENANCE, resourceId, type Provenance } from './provenance.js';

export interface DiffInput {
  desired: DesiredState;
  /** Fingerprints of each declared connection's resolved secrets. */
  fingerprints: Map<string, SecretFingerprints>;
  stored: StoredState;
  prune: boolean;
  now: string;
  /** Drift and stored literal URLs, from the revision history (none: nothing is labelled). */
  provenance?: Provenance;
}

/** What the rules below add to, in order: the plan's changes, its writes and the unmanaged resources. */
interface PlanParts {
  changes: ResourceChange[];
  writes: Plan['writes'];
  unmanaged: Plan['unmanaged'];
}

/**
 * The plan as data: each rule adds the changes and writes of one kind of resource, in the order
 * they are shown and applied (connections, policies, pruned resources, webhook lists).
 */
export function computePlan(input: DiffInput): Plan {
  const provenance = input.provenance ?? NO_PROVENANCE;
  const parts: PlanParts = {
    changes: [],
    writes: { connections: [], policies: [], lists: [], delete_policies: [], delete_connections: [] },
    unmanaged: [],
  };
  planConnections(input, provenance, parts);
  planPolicies(input, parts);
  planUnmanaged(input, parts);
  planWebhookLists(input, parts);
  refuseDanglingConnections(input.stored, input.desired, parts.writes.delete_connections, new Set(parts.writes.delete_policies));
  if (provenance.drifted.size > 0) for (const c of parts.changes) if (provenance.drifted.has(resourceId(c))) c.drift = true;

  const fingerprints: Plan['secret_fingerprints'] = {};
  const refs: Plan['secret_refs'] = {};
  for (const c of input.desired.connections) {
    fingerprints[c.key] = input.fingerprints.get(c.key)!;
    refs[c.key] = c.secrets;
  }
  return {
    format_version: PLAN_FORMAT_VERSION,
    created_at: input.now,
    state_serial: input.stored.serial,
    state_id: input.stored.state_id,
    manifest_digest: input.desired.digest,
    prune: input.prune,
    changes: parts.changes,
    summary: summarize(parts.changes),
    unmanaged: parts.unmanaged,
    writes: parts.writes,
    secret_fingerprints: fingerprints,
    secret_refs: refs,
  };
}

/** Declared connections that are new or differ (secrets by fingerprint) are written. */
function planConnections(input: DiffInput, provenance: Provenance, { changes, writes }: PlanParts): void {
  for (const conn of input.desired.connections) {
    const before = input.stored.connections.get(conn.key);
    const fields = connectionChanges(conn, input.fingerprints.get(conn.key)!, before, provenance.literalUrls.get(conn.key));
    if (before && fields.length === 0) continue;
    changes.push({ kind: 'connection', action: before ? 'update' : 'create', key: conn.key, fields });
    writes.connections.push({ ...connectionConfig(conn), write_secrets: !before || fields.some((f) => f.field.startsWith('secrets.')) });
  }
}

/** A policy's own field is its name. */
function planPolicies(input: DiffInput, { changes, writes }: PlanParts): void {
  for (const policy of input.desired.policies) {
    const before = input.stored.policies.get(policy.key);
    if (before && before.name === policy.name) continue;
    changes.push({ kind: 'policy', action: before ? 'update' : 'create', key: policy.key, fields: [{ field: 'name', ...(before && { before: before.name }), after: policy.name }] });
    writes.policies.push({ key: policy.key, name: policy.name });
  }
}

/**
 * Stored resources no manifest declares are reported; with --prune, deleted if hookctl's apply
 * created them (never what the API created). A pruned policy takes its webhooks with it.
 */
function planUnmanaged(input: DiffInput, { changes, writes, unmanaged }: PlanParts): void {
  const { desired, stored, prune } = input;
  const declaredPolicies = new Set(desired.policies.map((p) => p.key));
  for (const [key, p] of stored.policies) {
    if (declaredPolicies.has(key)) continue;
    const pruned = prune && p.origin === 'manifest';
    unmanaged.push({ kind: 'policy', key, origin: p.origin, pruned });
    if (!pruned) continue;
    writes.delete_policies.push(key);
    changes.push({ kind: 'policy', action: 'delete', key, fields: [] });
    for (const phase of PHASES) {
      for (const w of stored.webhooks[phase].get(key) ?? []) {
        changes.push({ kind: 'webhook', action: 'delete', policy_key: key, phase, key: w.key, from: w.order, fields: [] });
      }
    }
  }
  const declaredConnections = new Set(desired.connections.map((c) => c.key));
  for (const [key, c] of stored.connections) {
    if (declaredConnections.has(key)) continue;
    const pruned = prune && c.origin === 'manifest';
    unmanaged.push({ kind: 'connection', key, origin: c.origin, pruned });
    if (!pruned) continue;
    writes.delete_connections.push(key);
    changes.push({ kind: 'connection', action: 'delete', key, fields: [] });
  }
}

/**
 * Every managed list through the PUT semantics, then diffed. The final state of every list
 * decides key/name ownership, so that a key may move between two managed lists in one apply;
 * runs after planUnmanaged, whose deletions are part of that final state.
 */
function planWebhookLists(input: DiffInput, { changes, writes }: PlanParts): void {
  const { desired, stored } = input;
  const deletedPolicies = new Set(writes.delete_policies);
  const deletedConnections = new Set(writes.delete_connections);
  const finalConnections = new Set([...desired.connections.map((c) => c.key), ...[...stored.connections.keys()].filter((k) => !deletedConnections.has(k))]);
  for (const phase of PHASES) {
    const managed = new Map<string, DesiredWebhook[]>();
    for (const p of desired.policies) {
      const list = p[listField(phase)];
      if (list) managed.set(p.key, list);
    }
    const owners = finalOwners(stored.webhooks[phase], managed, deletedPolicies);
    for (const policy of desired.policies) {
      const items = managed.get(policy.key);
      if (!items) continue;
      const current = stored.webhooks[phase].get(policy.key) ?? [];
      const next = checkedList(policy, phase, items, current, owners, finalConnections);
      const listChanges = diffList(policy.key, phase, current, next);
      if (listChanges.length > 0) {
        changes.push(...listChanges);
        writes.lists.push({ policy_key: policy.key, phase, next, destructive: next.length === 0 && current.length > 0 } satisfies PlannedList);
      }
    }
  }
}

/**
 * Secrets are compared by fingerprint. A literal URL (in the manifest, so in git) is shown as
 * its value, and so is the stored one when an apply wrote it as a literal (`storedLiteralUrl`);
 * anything else stays hidden.
 */
function connectionChanges(conn: DesiredConnection, fp: SecretFingerprints, before: StoredConnection | undefined, storedLiteralUrl: string | undefined): FieldChange[] {
  const fields = connectionFieldChanges(connectionConfig(conn), before);
  for (const s of SECRET_FIELDS) {
    if (before && before.secret_fingerprints[s] === fp[s]) continue;
    const input = conn.secrets[s];
    fields.push({
      field: `secrets.${s}`,
      ...(s === 'url' && before && storedLiteralUrl !== undefined && { before: storedLiteralUrl }),
      ...(s === 'url' && 'value' in input && { after: input.value }),
      sensitive: true,
    });
  }
  return fields;
}

/**
 * Owner index of one phase after the apply: managed lists as desired, the others as stored.
 * Unmanaged rows go last so they win: a managed list claiming a key that an unmanaged list
 * holds is then refused by the PUT semantics instead of silently taking it over.
 */
function finalOwners(
  stored: Map<string, StoredWebhook[]>,
  managed: Map<string, DesiredWebhook[]>,
  deletedPolicies: Set<string>,
): PhaseOwners {
  const unmanaged = [...stored].filter(([policyKey]) => !managed.has(policyKey) && !deletedPolicies.has(policyKey));
  return indexOwners([...managed, ...unmanaged]);
}

/** The desired list through the Fides PUT semantics, with errors pointing at the manifest. */
function checkedList(
  policy: DesiredPolicy,
  phase: Phase,
  items: DesiredWebhook[],
  current: StoredWebhook[],
  owners: PhaseOwners,
  connections: Set<string>,
): Webhook[] {
  try {
    return putWebhookList({ phase, policyKey: policy.key, owners, connectionExists: (k) => connections.has(k) }, current, items);
  } catch (err) {
    if (!(err instanceof FidesError)) throw err;
    const span = (err.index !== undefined ? items[err.index] : undefined)?.span ?? policy.span;
    const where = `${span.file}:${span.line}:${span.column}: `;
    throw new HookctlError(
      `${where}policy '${policy.key}' ${listField(phase)}: ${err.detail}`,
      ExitCode.runtime,
      'the stored state has a webhook your manifests do not manage; declare that policy\'s list, or rename yours',
    );
  }
}

function refuseDanglingConnections(stored: StoredState, desired: DesiredState, deleting: string[], deletedPolicies: Set<string>): void {
  if (deleting.length === 0) return;
  const gone = new Set(deleting);
  const managedLists = new Set(desired.policies.flatMap((p) => PHASES.filter((ph) => p[listField(ph)]).map((ph) => `${ph}/${p.key}`)));
  for (const phase of PHASES) {
    for (const [policyKey, list] of stored.webhooks[phase]) {
      if (deletedPolicies.has(policyKey) || managedLists.has(`${phase}/${policyKey}`)) continue;
      const users = connectionUsers(list, gone);
      if (users.length > 0) {
        const refusal = new ConnectionInUseError('prune', users);
        throw new HookctlError(refusal.line, ExitCode.runtime, refusal.hint);
      }
    }
  }
}
