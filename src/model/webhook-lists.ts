/**
 * The Fides policy-webhook list semantics as pure functions over in-memory lists: PUT
 * (replace the whole list), PATCH (fields and/or order), DELETE (with reorder). `apply` and the
 * HTTP API both call these, so they cannot drift apart. Inputs are never mutated.
 *
 * Status codes and messages are upstream's, with three departures: a collision is a 400 (never
 * upstream's 500), PATCH validates `order` before changing anything, and PUT never takes over a
 * webhook that belongs to another policy.
 */
import { apiError } from './errors.js';
import { resolveKey } from './keys.js';
import type { Direction, Phase, Webhook, WebhookOrder } from './types.js';

/** What a list operation needs to know about the rest of the state. */
export interface ListContext {
  phase: Phase;
  policyKey: string;
  /** Keys and names are unique per phase across all policies: who holds this one, if anyone. */
  owners: PhaseOwners;
  connectionExists(key: string): boolean;
  /** Why an existing connection cannot run webhooks (checked when one is attached), if it cannot. */
  connectionUnusable?(key: string): string | undefined;
}

/** Owning policy of each webhook key and name of one phase. */
export interface PhaseOwners {
  byKey: Map<string, string>;
  byName: Map<string, string>;
}

/**
 * Build the owner index of one phase once, from each policy's list; O(1) look-ups afterwards. A
 * later list holding the same key or name wins.
 */
export function indexOwners(lists: Iterable<readonly [policyKey: string, webhooks: readonly Pick<Webhook, 'key' | 'name'>[]]>): PhaseOwners {
  const owners: PhaseOwners = { byKey: new Map(), byName: new Map() };
  for (const [policyKey, webhooks] of lists) {
    for (const w of webhooks) {
      owners.byKey.set(w.key, policyKey);
      owners.byName.set(w.name, policyKey);
    }
  }
  return owners;
}

export interface PutItem {
  key?: string | null;
  name?: string | null;
  connection_config_key: string;
  direction: Direction;
}

/**
 * PUT semantics: the result is exactly `items`, in order (order = position). Existing webhooks
 * of this policy keep their identity by key; the others are created; the policy's webhooks not
 * listed are deleted. A missing name keeps the stored name of an existing webhook.
 */
export function putWebhookList(ctx: ListContext, current: readonly Webhook[], items: readonly PutItem[]): Webhook[] {
  const resolved = items.map((item, index) => {
    const { key, problem } = resolveKey(item);
    if (problem !== undefined) throw apiError('webhook_key_not_derivable', index, problem).at(index);
    return { key, name: item.name, connection_config_key: item.connection_config_key, direction: item.direction };
  });

  // Upstream compares names too, counting a missing name as a value (two key-only items collide).
  const seenKeys = new Set<string>();
  const seenNames = new Set<string | null>();
  resolved.forEach((item, index) => {
    const name = item.name ?? null;
    if (seenKeys.has(item.key) || seenNames.has(name)) {
      throw apiError('webhook_listed_twice').at(index);
    }
    seenKeys.add(item.key);
    seenNames.add(name);
  });

  const mine = new Map(current.map((w) => [w.key, w]));
  const finalNames = new Set<string>();
  return resolved.map((item, index) => {
    checkConnection(ctx, item.connection_config_key, index);
    const owner = ctx.owners.byKey.get(item.key);
    if (owner !== undefined && owner !== ctx.policyKey) {
      throw apiError('webhook_key_taken', ctx.phase, item.key, owner).at(index);
    }
    const name = item.name ?? mine.get(item.key)?.name;
    if (name === undefined) throw apiError('webhook_name_missing', item.key).at(index);
    const nameOwner = ctx.owners.byName.get(name);
    // A kept name (item without one) may still collide with a name given in this request.
    if ((nameOwner !== undefined && nameOwner !== ctx.policyKey) || finalNames.has(name)) {
      throw apiError('webhook_name_taken', ctx.phase, name).at(index);
    }
    finalNames.add(name);
    return { key: item.key, name, connection_config_key: item.connection_config_key, direction: item.direction };
  });
}

export interface WebhookPatch {
  direction?: Direction;
  name?: string;
  connection_config_key?: string;
  order?: number;
}

export interface PatchResult {
  list: Webhook[];
  resource: Webhook & { order: number };
  /** Every webhook of the list with its order when the order changed, else [] (upstream). */
  new_order: WebhookOrder[];
}

/** PATCH semantics; everything is validated before anything changes. */
export function patchWebhook(ctx: ListContext, current: readonly Webhook[], key: string, patch: WebhookPatch): PatchResult {
  const index = current.findIndex((w) => w.key === key);
  if (index < 0) throw apiError('webhook_not_found', ctx.phase, key, ctx.policyKey);
  if (patch.connection_config_key !== undefined) checkConnection(ctx, patch.connection_config_key);
  if (patch.order !== undefined && (patch.order < 0 || patch.order > current.length - 1)) {
    throw apiError('webhook_order_out_of_range', ctx.phase, patch.order, current.length);
  }
  if (patch.name !== undefined && patch.name !== current[index]!.name) {
    const nameOwner = ctx.owners.byName.get(patch.name);
    const taken = current.some((w) => w.key !== key && w.name === patch.name) || (nameOwner !== undefined && nameOwner !== ctx.policyKey);
    if (taken) throw apiError('webhook_name_taken', ctx.phase, patch.name);
  }

  const updated: Webhook = {
    ...current[index]!,
    ...(patch.direction !== undefined && { direction: patch.direction }),
    ...(patch.name !== undefined && { name: patch.name }),
    ...(patch.connection_config_key !== undefined && { connection_config_key: patch.connection_config_key }),
  };
  let list = current.map((w, i) => (i === index ? updated : w));
  const reorder = patch.order !== undefined && patch.order !== index;
  if (reorder) list = moveItem(list, index, patch.order!);
  return {
    list,
    resource: { ...updated, order: list.indexOf(updated) },
    new_order: reorder ? orderOf(list) : [],
  };
}

/**
 * DELETE semantics: upstream moves the webhook to the end, then deletes it; `new_order` lists
 * the remaining webhooks when that moved anything, else [].
 */
export function deleteWebhook(ctx: Pick<ListContext, 'phase' | 'policyKey'>, current: readonly Webhook[], key: string): { list: Webhook[]; new_order: WebhookOrder[] } {
  const index = current.findIndex((w) => w.key === key);
  if (index < 0) throw apiError('webhook_not_found', ctx.phase, key, ctx.policyKey);
  const list = current.filter((_, i) => i !== index);
  return { list, new_order: index === current.length - 1 ? [] : orderOf(list) };
}

/** Move the item at `from` to `to`; items in between shift by one (upstream's reorder). */
export function moveItem<T>(list: readonly T[], from: number, to: number): T[] {
  const next = list.slice();
  const [item] = next.splice(from, 1);
  next.splice(to, 0, item as T);
  return next;
}

export function orderOf(list: readonly { key: string }[]): WebhookOrder[] {
  return list.map((w, order) => ({ key: w.key, order }));
}

/**
 * 404 for an unknown connection; 400 for one that cannot run webhooks, refused when it is
 * attached rather than when a privacy request calls it.
 */
function checkConnection(ctx: ListContext, key: string, index?: number): void {
  const blame = (err: ReturnType<typeof apiError>) => (index === undefined ? err : err.at(index));
  if (!ctx.connectionExists(key)) throw blame(apiError('connection_not_found', key));
  const reason = ctx.connectionUnusable?.(key);
  if (reason) throw blame(apiError('connection_unusable', key, reason));
}
