/**
 * What a configuration write changes, as data: plans, the revision history and API writes all
 * speak this vocabulary, and renderers turn it into text. The actions are a closed set.
 */
import type { ConnectionConfig, Phase, StoredWebhook, Webhook } from './types.js';

export const CHANGE_ACTIONS = ['create', 'update', 'delete', 'move'] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

export interface FieldChange {
  field: string;
  before?: unknown;
  after?: unknown;
  /**
   * Secret fields. A side that is absent is not shown (a secret ref's value, or a stored value of
   * unknown origin); a side that is present is a literal `secrets.url` from a manifest (in git).
   */
  sensitive?: boolean;
}

/** `drift`: the resource (for a webhook, its list) was changed through the API since hookctl's last apply. */
export type ResourceChange =
  | { kind: 'connection'; action: Exclude<ChangeAction, 'move'>; key: string; fields: FieldChange[]; drift?: true }
  | { kind: 'policy'; action: Exclude<ChangeAction, 'move'>; key: string; fields: FieldChange[]; drift?: true }
  | {
      kind: 'webhook';
      drift?: true;
      action: ChangeAction;
      policy_key: string;
      phase: Phase;
      key: string;
      /** Position before (absent for create) and after (absent for delete). */
      from?: number;
      to?: number;
      fields: FieldChange[];
    };

/** How many changes of each action: one add per create, one change per update, and so on. */
export interface ChangeSummary {
  add: number;
  change: number;
  delete: number;
  move: number;
}

const SUMMARY_COUNTER: Record<ChangeAction, keyof ChangeSummary> = { create: 'add', update: 'change', delete: 'delete', move: 'move' };

export function summarize(changes: readonly ResourceChange[]): ChangeSummary {
  const s: ChangeSummary = { add: 0, change: 0, delete: 0, move: 0 };
  for (const c of changes) s[SUMMARY_COUNTER[c.action]]++;
  return s;
}

const CONNECTION_FIELDS = ['name', 'connection_type', 'access', 'description', 'disabled', 'timeout_ms'] as const;
const WEBHOOK_FIELDS = ['name', 'direction', 'connection_config_key'] as const;

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
