/**
 * Desired state (manifests) × stored state → plan. Pure: no I/O, no secret values (secrets
 * arrive as keyed fingerprints). Webhook lists are diffed by key with move detection, and every
 * managed list is checked with the same PUT semantics the HTTP API uses.
 */
import type { DesiredConnection, DesiredPolicy, DesiredState, DesiredWebhook } from '../manifest/types.js';
import type { StoredConnection, StoredState } from '../state/config-store.js';
import { indexOwners, putWebhookList, FidesError, type PhaseOwners } from '../model/webhook-lists.js';
import { PHASES, SECRET_FIELDS, type ConnectionConfig, type Phase, type StoredWebhook, type Webhook } from '../model/types.js';
import { HookctlError, ExitCode } from '../errors.js';
import {
  PLAN_FORMAT_VERSION,
  type FieldChange,
  type Plan,
  type PlannedList,
  type ResourceChange,
  type SecretFingerprints,
} from './plan-types.js';
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

const CONNECTION_FIELDS = ['name', 'connection_type', 'access', 'description', 'disabled', 'timeout_ms'] as const;
const WEBHOOK_FIELDS = ['name', 'direction', 'connection_config_key'] as const;

export function listField(phase: Phase): 'pre_execution_webhooks' | 'post_execution_webhooks' {
  return phase === 'pre' ? 'pre_execution_webhooks' : 'post_execution_webhooks';
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

/** The ConnectionConfig fields of any connection-shaped value (no secrets, origin or spans). */
export function connectionConfig(c: ConnectionConfig): ConnectionConfig {
  return {
    key: c.key,
    name: c.name,
    connection_type: c.connection_type,
    access: c.access,
    description: c.description ?? null,
    disabled: c.disabled ?? false,
    timeout_ms: c.timeout_ms ?? null,
  };
}

/** Changed non-secret fields; for a new connection (no `before`), the fields it sets. */
export function connectionFieldChanges(after: ConnectionConfig, before: ConnectionConfig | undefined): FieldChange[] {
  return CONNECTION_FIELDS.filter((f) => (before ? before[f] !== after[f] : after[f] !== null)).map((f) => ({
    field: f,
    ...(before && { before: before[f] }),
    after: after[f],
  }));
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
  const rows: { key: string; name: string; policy_key: string }[] = [];
  for (const [policy_key, list] of managed) for (const w of list) rows.push({ key: w.key, name: w.name, policy_key });
  for (const [policy_key, list] of stored) {
    if (!managed.has(policy_key) && !deletedPolicies.has(policy_key)) rows.push(...list);
  }
  return indexOwners(rows);
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

/**
 * Keyed diff of one list. Moved: the kept webhooks outside the longest run that kept its
 * relative order (the fewest moves that explain the new order); among equally long runs, the
 * one keeping most webhooks at their old position, so a swap reports the two that swapped.
 */
export function diffList(policy_key: string, phase: Phase, current: readonly StoredWebhook[], next: readonly Webhook[]): ResourceChange[] {
  if (unchangedList(current, next)) return [];
  const changes: ResourceChange[] = [];
  const nextIndex = new Map(next.map((w, i) => [w.key, i]));
  const currentByKey = new Map(current.map((w) => [w.key, w]));
  for (const w of current) {
    if (!nextIndex.has(w.key)) changes.push({ kind: 'webhook', action: 'delete', policy_key, phase, key: w.key, from: w.order, fields: [] });
  }
  const kept = next.filter((w) => currentByKey.has(w.key));
  const stay = orderKeepingRun(kept.map((w) => ({ from: currentByKey.get(w.key)!.order, to: nextIndex.get(w.key)! })));
  next.forEach((w, to) => {
    const before = currentByKey.get(w.key);
    if (!before) {
      changes.push({
        kind: 'webhook',
        action: 'create',
        policy_key,
        phase,
        key: w.key,
        to,
        fields: WEBHOOK_FIELDS.map((f) => ({ field: f, after: w[f] })),
      });
      return;
    }
    const fields: FieldChange[] = WEBHOOK_FIELDS.filter((f) => before[f] !== w[f]).map((f) => ({ field: f, before: before[f], after: w[f] }));
    const moved = !stay.has(before.order) && before.order !== to;
    if (fields.length > 0) changes.push({ kind: 'webhook', action: 'update', policy_key, phase, key: w.key, from: before.order, to, fields });
    else if (moved) changes.push({ kind: 'webhook', action: 'move', policy_key, phase, key: w.key, from: before.order, to, fields: [] });
  });
  return changes;
}

/** The same webhooks in the same order with the same fields: most lists of a plan, so checked first. */
function unchangedList(current: readonly StoredWebhook[], next: readonly Webhook[]): boolean {
  return current.length === next.length && next.every((w, i) => current[i]!.key === w.key && current[i]!.order === i && WEBHOOK_FIELDS.every((f) => current[i]![f] === w[f]));
}

/**
 * The old positions of a longest subsequence increasing in old position (items in new order),
 * ties broken towards more items whose position did not change. O(n²): lists hold at most 50.
 */
function orderKeepingRun(items: { from: number; to: number }[]): Set<number> {
  const best = items.map((it) => ({ length: 1, fixed: it.from === it.to ? 1 : 0, prev: -1 }));
  items.forEach((it, i) => {
    for (let j = 0; j < i; j++) {
      if (items[j]!.from >= it.from) continue;
      const length = best[j]!.length + 1;
      const fixed = best[j]!.fixed + (it.from === it.to ? 1 : 0);
      if (length > best[i]!.length || (length === best[i]!.length && fixed > best[i]!.fixed)) best[i] = { length, fixed, prev: j };
    }
  });
  let end = -1;
  best.forEach((b, i) => {
    const e = end >= 0 ? best[end]! : undefined;
    if (!e || b.length > e.length || (b.length === e.length && b.fixed > e.fixed)) end = i;
  });
  const run = new Set<number>();
  for (let i = end; i >= 0; i = best[i]!.prev) run.add(items[i]!.from);
  return run;
}

function refuseDanglingConnections(stored: StoredState, desired: DesiredState, deleting: string[], deletedPolicies: Set<string>): void {
  if (deleting.length === 0) return;
  const gone = new Set(deleting);
  const managedLists = new Set(desired.policies.flatMap((p) => PHASES.filter((ph) => p[listField(ph)]).map((ph) => `${ph}/${p.key}`)));
  for (const phase of PHASES) {
    for (const [policyKey, list] of stored.webhooks[phase]) {
      if (deletedPolicies.has(policyKey) || managedLists.has(`${phase}/${policyKey}`)) continue;
      const user = list.find((w) => gone.has(w.connection_config_key));
      if (user) {
        throw new HookctlError(
          `cannot prune connection '${user.connection_config_key}': webhook '${user.key}' of policy '${policyKey}' (${listField(phase)}) still uses it`,
          ExitCode.runtime,
          'declare that connection again, or remove the webhook first',
        );
      }
    }
  }
}

export function summarize(changes: ResourceChange[]): Plan['summary'] {
  const s = { add: 0, change: 0, delete: 0, move: 0 };
  for (const c of changes) {
    if (c.action === 'create') s.add++;
    else if (c.action === 'update') s.change++;
    else if (c.action === 'delete') s.delete++;
    else s.move++;
  }
  return s;
}

