import { describe, expect, it } from 'vitest';
import {
  deleteWebhook,
  indexOwners,
  moveItem,
  patchWebhook,
  putWebhookList,
  type ListContext,
} from '../../src/model/webhook-lists.js';
import { FidesError } from '../../src/model/errors.js';
import { keyFromName } from '../../src/model/keys.js';
import type { Webhook } from '../../src/model/types.js';

const hook = (key: string, name = `${key} name`): Webhook => ({ key, name, connection_config_key: 'my_webhook_config', direction: 'one_way' });
const keys = (list: { key: string }[]) => list.map((w) => w.key);

function ctx(policyKey: string, lists: Record<string, Webhook[]>, phase: 'pre' | 'post' = 'pre'): ListContext {
  return { phase, policyKey, owners: indexOwners(Object.entries(lists)), connectionExists: (k) => k === 'my_webhook_config' };
}

function fidesError(fn: () => unknown): FidesError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FidesError) return err;
    throw err;
  }
  throw new Error('expected a FidesError');
}

describe('keyFromName (Fides to_snake_case)', () => {
  it.each([
    ['My Pre Execution Webhook', 'my_pre_execution_webhook'],
    ['Poke Snowflake Webhook', 'poke_snowflake_webhook'],
    ['  Café -- crème  ', 'cafe_creme'],
    ['Straße Øresund', 'strasse_oresund'],
    ['!!!', ''],
  ])('%s → %s', (name, key) => expect(keyFromName(name)).toBe(key));
});

describe('moveItem (upstream reorder, test_reorder_webhooks)', () => {
  it('moves 4 to 0, again to 0 (no-op), then to 2', () => {
    let l = ['w0', 'w1', 'w2', 'w3', 'w4'];
    l = moveItem(l, 4, 0);
    expect(l).toEqual(['w4', 'w0', 'w1', 'w2', 'w3']);
    expect(moveItem(l, 0, 0)).toEqual(l);
    expect(moveItem(l, 0, 2)).toEqual(['w0', 'w1', 'w4', 'w2', 'w3']);
  });
});

describe('putWebhookList', () => {
  const valid = { connection_config_key: 'my_webhook_config', direction: 'one_way' as const, name: 'Poke Snowflake Webhook', key: 'poke_snowflake_webhook' };

  it('creates in request order, deriving a missing key from the name', () => {
    const list = putWebhookList(ctx('p', {}), [], [valid, { connection_config_key: 'my_webhook_config', direction: 'two_way', name: 'My Pre Execution Webhook' }]);
    expect(list).toEqual([
      { key: 'poke_snowflake_webhook', name: 'Poke Snowflake Webhook', connection_config_key: 'my_webhook_config', direction: 'one_way' },
      { key: 'my_pre_execution_webhook', name: 'My Pre Execution Webhook', connection_config_key: 'my_webhook_config', direction: 'two_way' },
    ]);
  });

  it('reorders and removes what the request omits; [] deletes all', () => {
    const current = [hook('a'), hook('b')];
    const c = ctx('p', { p: current });
    expect(keys(putWebhookList(c, current, [{ ...hook('b') }, { ...hook('a') }]))).toEqual(['b', 'a']);
    expect(keys(putWebhookList(c, current, [{ ...hook('a') }]))).toEqual(['a']);
    expect(putWebhookList(c, current, [])).toEqual([]);
  });

  it('keeps the stored name of an existing webhook when the item gives only its key', () => {
    const current = [hook('a', 'Alpha')];
    expect(putWebhookList(ctx('p', { p: current }), current, [{ key: 'a', connection_config_key: 'my_webhook_config', direction: 'two_way' }])[0]).toMatchObject({ name: 'Alpha', direction: 'two_way' });
  });

  it('400 for duplicate keys, a name deriving an existing key, and two nameless items', () => {
    const msg = 'Check request body: there are multiple webhooks whose keys or names resolve to the same value.';
    const c = ctx('p', {});
    expect(fidesError(() => putWebhookList(c, [], [valid, valid]))).toMatchObject({ status: 400, detail: msg });
    expect(fidesError(() => putWebhookList(c, [], [valid, { ...valid, key: undefined }]))).toMatchObject({ status: 400, detail: msg });
    const keyOnly = (key: string) => ({ key, connection_config_key: 'my_webhook_config', direction: 'one_way' as const });
    expect(fidesError(() => putWebhookList(c, [], [keyOnly('x'), keyOnly('y')]))).toMatchObject({ status: 400, detail: msg });
  });

  it('404 for an unknown connection, naming it', () => {
    const e = fidesError(() => putWebhookList(ctx('p', {}), [], [valid, { ...valid, key: 'k2', name: 'n2', connection_config_key: 'unknown_connection_key' }]));
    expect(e).toMatchObject({ status: 404, detail: "No connection configuration found with key 'unknown_connection_key'." });
  });

  it('400 when the connection exists but cannot run webhooks (checked on attach, not at run time)', () => {
    const c = { ...ctx('p', {}), connectionUnusable: (k: string) => (k === 'my_webhook_config' ? 'it has no secrets yet' : undefined) };
    expect(fidesError(() => putWebhookList(c, [], [valid]))).toMatchObject({
      status: 400,
      detail: "Connection configuration 'my_webhook_config' cannot run webhooks: it has no secrets yet.",
    });
  });

  it("400 instead of moving another policy's webhook, and for a name another policy uses", () => {
    const c = ctx('p', { other: [hook('taken', 'Taken Name')] });
    expect(fidesError(() => putWebhookList(c, [], [{ ...valid, key: 'taken' }]))).toMatchObject({ status: 400 });
    expect(fidesError(() => putWebhookList(c, [], [{ ...valid, name: 'Taken Name' }]))).toMatchObject({
      status: 400,
      detail: 'Name Taken Name already exists in PolicyPreWebhook.',
    });
  });

  it('400 when a kept name (item given by key only) collides with a name in the same request', () => {
    const current = [hook('a', 'X')];
    const e = fidesError(() =>
      putWebhookList(ctx('p', { p: current }), current, [
        { key: 'a', connection_config_key: 'my_webhook_config', direction: 'one_way' },
        { key: 'n', name: 'X', connection_config_key: 'my_webhook_config', direction: 'one_way' },
      ]),
    );
    expect(e).toMatchObject({ status: 400, detail: 'Name X already exists in PolicyPreWebhook.', index: 1 });
  });

  it('a new key needs a name; a name that derives an empty key needs a key', () => {
    expect(fidesError(() => putWebhookList(ctx('p', {}), [], [{ key: 'k', connection_config_key: 'my_webhook_config', direction: 'one_way' }])).status).toBe(400);
    expect(fidesError(() => putWebhookList(ctx('p', {}), [], [{ name: '!!!', connection_config_key: 'my_webhook_config', direction: 'one_way' }])).status).toBe(400);
  });
});

describe('patchWebhook', () => {
  const current = [hook('pre_execution_one_way_webhook'), hook('pre_execution_two_way_webhook')];
  const c = ctx('example_access_request_policy', { example_access_request_policy: current });

  it('renames only: new_order is []', () => {
    const r = patchWebhook(c, current, 'pre_execution_one_way_webhook', { name: 'Renaming this webhook' });
    expect(r.resource).toMatchObject({ name: 'Renaming this webhook', order: 0 });
    expect(r.new_order).toEqual([]);
  });

  it('renames and moves: new_order lists all', () => {
    const r = patchWebhook(c, current, 'pre_execution_one_way_webhook', { name: 'Renaming this webhook', order: 1 });
    expect(r.resource.order).toBe(1);
    expect(r.new_order).toEqual([
      { key: 'pre_execution_two_way_webhook', order: 0 },
      { key: 'pre_execution_one_way_webhook', order: 1 },
    ]);
  });

  it('moving to the current order changes nothing and returns new_order []', () => {
    expect(patchWebhook(c, current, 'pre_execution_two_way_webhook', { order: 1 }).new_order).toEqual([]);
  });

  it('[a,b,c,d]: b→3 gives [a,c,d,b]; d→0 gives [d,a,b,c]', () => {
    const l = ['a', 'b', 'c', 'd'].map((k) => hook(k));
    const cc = ctx('p', { p: l });
    expect(keys(patchWebhook(cc, l, 'b', { order: 3 }).list)).toEqual(['a', 'c', 'd', 'b']);
    expect(keys(patchWebhook(cc, l, 'd', { order: 0 }).list)).toEqual(['d', 'a', 'b', 'c']);
  });

  it('validates order before changing anything (5 and -1 are 400)', () => {
    for (const order of [5, -1]) {
      expect(fidesError(() => patchWebhook(c, current, 'pre_execution_one_way_webhook', { name: 'New', order }))).toMatchObject({
        status: 400,
        detail: `Cannot set order to ${order}: there are only 2 PolicyPreWebhook(s) defined on this Policy.`,
      });
    }
  });

  it('404 for a webhook not on the policy, with upstream wording', () => {
    expect(fidesError(() => patchWebhook({ ...c, policyKey: 'example_erasure_policy' }, [], 'pre_execution_one_way_webhook', {}))).toMatchObject({
      status: 404,
      detail: "No Pre-Execution Webhook found for key 'pre_execution_one_way_webhook' on Policy 'example_erasure_policy'.",
    });
  });

  it('400 (not 500) for a name collision, on the same or another policy', () => {
    expect(fidesError(() => patchWebhook(c, current, 'pre_execution_one_way_webhook', { name: current[1]!.name })).status).toBe(400);
    const withOther = ctx('example_access_request_policy', { example_access_request_policy: current, other: [hook('x', 'Other Name')] });
    expect(fidesError(() => patchWebhook(withOther, current, 'pre_execution_one_way_webhook', { name: 'Other Name' })).status).toBe(400);
  });

  it('empty patch: 200, unchanged', () => {
    const r = patchWebhook(c, current, 'pre_execution_one_way_webhook', {});
    expect(r.list).toEqual(current);
    expect(r.new_order).toEqual([]);
  });

  it('post phase: name, order and direction together', () => {
    const post = [hook('cache_busting_webhook'), hook('cleanup_webhook')];
    const r = patchWebhook(ctx('p', { p: post }, 'post'), post, 'cache_busting_webhook', { name: 'Better Webhook Name', order: 1, direction: 'two_way' });
    expect(r.resource).toMatchObject({ key: 'cache_busting_webhook', name: 'Better Webhook Name', direction: 'two_way', order: 1 });
    expect(r.new_order).toEqual([
      { key: 'cleanup_webhook', order: 0 },
      { key: 'cache_busting_webhook', order: 1 },
    ]);
  });
});

describe('deleteWebhook', () => {
  const l = ['a', 'b', 'c'].map((k) => hook(k));
  const c = { phase: 'post' as const, policyKey: 'p' };
  it('deleting the first reorders the rest', () => {
    expect(deleteWebhook(c, l, 'a')).toEqual({ list: [l[1], l[2]], new_order: [{ key: 'b', order: 0 }, { key: 'c', order: 1 }] });
  });
  it('deleting a middle one reorders too', () => {
    expect(deleteWebhook(c, l, 'b').new_order).toEqual([{ key: 'a', order: 0 }, { key: 'c', order: 1 }]);
  });
  it('deleting the last (or only) one returns new_order []', () => {
    expect(deleteWebhook(c, l, 'c').new_order).toEqual([]);
    expect(deleteWebhook(c, [l[0]!], 'a')).toEqual({ list: [], new_order: [] });
  });
  it('404 for an unknown key', () => {
    expect(fidesError(() => deleteWebhook(c, l, 'zzz')).detail).toBe("No Post-Execution Webhook found for key 'zzz' on Policy 'p'.");
  });
});
