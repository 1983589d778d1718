/**
 * The Fides policy-webhook list semantics as pure functions over in-memory lists: PUT
 * (replace the whole list), PATCH (fields and/or order), DELETE (with reorder). `apply` and the
 * HTTP API both call these, so they cannot drift apart. Inputs are never mutated.
 *
 * Status codes and messages are upstream's (reference §2), with the contract's improvements
 * (§8): collisions are 400 (never 500), PATCH validates `order` before changing anything,
 * and PUT never takes over a webhook that belongs to another policy.
 */
import { resolveKey } from './keys.js';
import type { Direction, Phase, StoredWebhook, Webhook, WebhookOrder } from './types.js';

/** One problem of a request body, as Fides (pydantic) lists them in a 422 `detail`. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** An error with a Fides HTTP status and `detail`: a message, or a 422's list of problems. */
export class FidesError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string | ValidationIssue[],
    /** For PUT: the position of the offending item in the request body. */
    readonly index?: number,
    /** Response headers the status calls for (`WWW-Authenticate` with a 401). */
    readonly headers?: Record<string, string>,
  ) {
    super(typeof detail === 'string' ? detail : detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '));
    this.name = 'FidesError';
  }
}

/** Upstream's class names appear in messages ("… PolicyPreWebhook(s) …"). */
export function webhookClassName(phase: Phase): string {
  return phase === 'pre' ? 'PolicyPreWebhook' : 'PolicyPostWebhook';
}

function phaseTitle(phase: Phase): string {
  return phase === 'pre' ? 'Pre-Execution' : 'Post-Execution';
}

export function webhookNotFound(phase: Phase, key: string, policyKey: string): FidesError {
  return new FidesError(404, `No ${phaseTitle(phase)} Webhook found for key '${key}' on Policy '${policyKey}'.`);
}

export function connectionNotFound(key: string): FidesError {
  return new FidesError(404, `No connection configuration found with key '${key}'.`);
}

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

/** Build the owner index of one phase once; O(1) look-ups afterwards. */
export function indexOwners(webhooks: Iterable<Pick<StoredWebhook, 'key' | 'name' | 'policy_key'>>): PhaseOwners {
  const owners: PhaseOwners = { byKey: new Map(), byName: new Map() };
  for (const w of webhooks) {
    owners.byKey.set(w.key, w.policy_key);
    owners.byName.set(w.name, w.policy_key);
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
    if (problem !== undefined) throw new FidesError(400, `Webhook at position ${index} ${problem}; set a key.`, index);
    return { key, name: item.name, connection_config_key: item.connection_config_key, direction: item.direction };
  });

  // Upstream compares names too, counting a missing name as a value (two key-only items collide).
  const seenKeys = new Set<string>();
  const seenNames = new Set<string | null>();
  resolved.forEach((item, index) => {
    const name = item.name ?? null;
    if (seenKeys.has(item.key) || seenNames.has(name)) {
      throw new FidesError(400, 'Check request body: there are multiple webhooks whose keys or names resolve to the same value.', index);
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
      throw new FidesError(
        400,
        `Webhook key '${item.key}' already belongs to Policy '${owner}'; a ${webhookClassName(ctx.phase)} key is unique across policies.`,
        index,
      );
    }
    const name = item.name ?? mine.get(item.key)?.name;
    if (name === undefined) throw new FidesError(400, `Webhook '${item.key}' is new and needs a name.`, index);
    const nameOwner = ctx.owners.byName.get(name);
    // A kept name (item without one) may still collide with a name given in this request.
    if ((nameOwner !== undefined && nameOwner !== ctx.policyKey) || finalNames.has(name)) {
      throw new FidesError(400, nameExists(ctx.phase, name).detail, index);
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
  if (index < 0) throw webhookNotFound(ctx.phase, key, ctx.policyKey);
  if (patch.connection_config_key !== undefined) checkConnection(ctx, patch.connection_config_key);
  if (patch.order !== undefined && (patch.order < 0 || patch.order > current.length - 1)) {
    throw new FidesError(
      400,
      `Cannot set order to ${patch.order}: there are only ${current.length} ${webhookClassName(ctx.phase)}(s) defined on this Policy.`,
    );
  }
  if (patch.name !== undefined && patch.name !== current[index]!.name) {
    const nameOwner = ctx.owners.byName.get(patch.name);
    const taken = current.some((w) => w.key !== key && w.name === patch.name) || (nameOwner !== undefined && nameOwner !== ctx.policyKey);
    if (taken) throw nameExists(ctx.phase, patch.name);
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
  if (index < 0) throw webhookNotFound(ctx.phase, key, ctx.policyKey);
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

/** 404 for an unknown connection; 400 for one that cannot run webhooks (contract §8). */
function checkConnection(ctx: ListContext, key: string, index?: number): void {
  if (!ctx.connectionExists(key)) throw new FidesError(404, connectionNotFound(key).detail, index);
  const reason = ctx.connectionUnusable?.(key);
  if (reason) throw new FidesError(400, `Connection configuration '${key}' cannot run webhooks: ${reason}.`, index);
}

function nameExists(phase: Phase, name: string): FidesError {
  return new FidesError(400, `Name ${name} already exists in ${webhookClassName(phase)}.`);
}
