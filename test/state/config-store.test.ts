import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import type { Database } from '../../src/state/database.js';
import {
  bumpSerial,
  deleteConnections,
  deletePolicies,
  readSerial,
  readState,
  saveWebhookLists,
  upsertConnections,
  upsertPolicies,
} from '../../src/state/config-store.js';
import { appendRevision, readHistory, type Revision } from '../../src/state/history.js';
import { withStateLock } from '../../src/state/lock.js';
import { HookctlError } from '../../src/errors.js';
import { LATER, NOW, connection, hook, openBackend, resetState, seed, storedList } from './store-fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('config_store');
});
afterAll(async () => env.drop());

describe.each([['sqlite'], ['postgres']] as const)('%s configuration store', (name) => {
  let db: Database;
  beforeAll(async () => {
    db = await openBackend(env.backends.find((b) => b.name === name)!);
  });
  afterAll(async () => db.close());
  beforeEach(async () => resetState(db));

  const keysOf = (list: { key: string }[]) => list.map((w) => w.key);
  const updatedAt = async () =>
    Object.fromEntries((await db.knex('webhooks').select('key', 'updated_at')).map((r: { key: string; updated_at: string }) => [r.key, r.updated_at]));

  it('stores connections: fields, booleans, nulls, origin; an update keeps origin, created_at and the secrets it does not mention', async () => {
    await withStateLock(db, 5000, async (trx) => {
      await upsertConnections(
        trx,
        [
          { config: connection('on', { description: 'a hook', timeout_ms: 2500 }), origin: 'api', secrets: { encrypted: 'v1.x.y.z', fingerprints: { url: 'hmac-sha256:u' } } },
          { config: connection('off', { disabled: true, access: 'write' }) },
        ],
        NOW,
      );
    });
    let state = await readState(db.knex);
    expect(state.connections.get('on')).toEqual({
      ...connection('on', { description: 'a hook', timeout_ms: 2500 }),
      origin: 'api',
      secrets_encrypted: 'v1.x.y.z',
      secret_fingerprints: { url: 'hmac-sha256:u' },
      created_at: NOW,
      updated_at: NOW,
    });
    expect(state.connections.get('off')).toMatchObject({ disabled: true, access: 'write', origin: 'manifest', secrets_encrypted: null, secret_fingerprints: {} });

    await withStateLock(db, 5000, async (trx) => {
      await upsertConnections(trx, [{ config: connection('on', { name: 'renamed', disabled: true }), origin: 'manifest' }], LATER);
      await upsertConnections(trx, [{ config: connection('off'), secrets: { encrypted: 'v1.a.b.c', fingerprints: { authorization: 'hmac-sha256:a' } } }], LATER);
    });
    state = await readState(db.knex);
    expect(state.connections.get('on')).toMatchObject({
      name: 'renamed',
      disabled: true,
      origin: 'api',
      secrets_encrypted: 'v1.x.y.z',
      secret_fingerprints: { url: 'hmac-sha256:u' },
      created_at: NOW,
      updated_at: LATER,
    });
    expect(state.connections.get('off')).toMatchObject({ disabled: false, secrets_encrypted: 'v1.a.b.c', secret_fingerprints: { authorization: 'hmac-sha256:a' } });
  });

  it('stores policies, and readState orders connections and policies by key in code-unit order on both backends', async () => {
    const keys = ['b', 'a_1', 'B', 'a-1', 'a.1', 'Z', 'a'];
    await withStateLock(db, 5000, async (trx) => {
      await upsertConnections(trx, keys.map((k) => ({ config: connection(k) })), NOW);
      await upsertPolicies(trx, keys.map((k) => ({ policy: { key: k, name: `policy ${k}` }, origin: 'api' as const })), NOW);
    });
    await withStateLock(db, 5000, (trx) => upsertPolicies(trx, [{ policy: { key: 'b', name: 'renamed' }, origin: 'manifest' }], LATER));

    const state = await readState(db.knex);
    const sorted = ['B', 'Z', 'a', 'a-1', 'a.1', 'a_1', 'b'];
    expect([...state.connections.keys()]).toEqual(sorted);
    expect([...state.policies.keys()]).toEqual(sorted);
    expect(state.policies.get('b')).toEqual({ key: 'b', name: 'renamed', origin: 'api', created_at: NOW, updated_at: LATER });
    // Every policy has a (here empty) list in both phases, in policy order.
    expect([...state.webhooks.pre.keys()]).toEqual(sorted);
    expect([...state.webhooks.post.values()].every((list) => list.length === 0)).toBe(true);
  });

  it('bumps the serial in the transaction and returns the new value', async () => {
    expect(await readSerial(db.knex)).toBe(0);
    expect(await withStateLock(db, 5000, (trx) => bumpSerial(trx))).toBe(1);
    expect(await withStateLock(db, 5000, async (trx) => (await bumpSerial(trx)) + (await bumpSerial(trx)))).toBe(2 + 3);
    expect(await readSerial(db.knex)).toBe(3);
    expect((await readState(db.knex)).serial).toBe(3);
  });

  it('reads the whole state in four SELECTs, however many policies and webhooks', async () => {
    await seed(db, { p1: ['a', 'b'], p2: ['c'], p3: ['d', 'e', 'f'] });
    const selects: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/^\s*select/i.test(q.sql)) selects.push(q.sql);
    };
    db.knex.on('query', onQuery);
    try {
      const state = await readState(db.knex);
      expect([...state.webhooks.pre.values()].flat()).toHaveLength(6);
    } finally {
      db.knex.removeListener('query', onQuery);
    }
    expect(selects).toHaveLength(4);
  });

  it('reads one policy alone: its lists only, by a query that selects nothing of the others', async () => {
    await seed(db, { p1: ['a', 'b'], p2: ['c'], p3: ['d', 'e', 'f'] });
    const webhookSelects: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/from\s+["`]?webhooks/i.test(q.sql)) webhookSelects.push(q.sql);
    };
    db.knex.on('query', onQuery);
    try {
      const state = await readState(db.knex, { policy: 'p3' });
      expect([...state.policies.keys()]).toEqual(['p3']);
      expect(keysOf(state.webhooks.pre.get('p3')!)).toEqual(['d', 'e', 'f']);
      expect(state.webhooks.pre.has('p1')).toBe(false);
      expect(state.connections.size).toBeGreaterThan(0);
    } finally {
      db.knex.removeListener('query', onQuery);
    }
    expect(webhookSelects).toHaveLength(1);
    expect(webhookSelects[0]).toMatch(/where/i);
  });

  it('inserts lists: order 0..n-1, ids of the form pol_<uuid>, the same read back', async () => {
    await seed(db, { p1: [], p2: [] });
    const [first, second] = await withStateLock(db, 5000, async (trx) =>
      saveWebhookLists(
        trx,
        [
          { policy_key: 'p2', phase: 'post', current: [], next: [hook('x', { direction: 'two_way' }), hook('y'), hook('z')] },
          { policy_key: 'p1', phase: 'pre', current: [], next: [hook('x')] },
        ],
        NOW,
      ),
    );
    expect(first!.map((w) => [w.key, w.order, w.phase, w.policy_key])).toEqual([
      ['x', 0, 'post', 'p2'],
      ['y', 1, 'post', 'p2'],
      ['z', 2, 'post', 'p2'],
    ]);
    expect(second!.map((w) => [w.key, w.order, w.phase])).toEqual([['x', 0, 'pre']]);
    for (const w of [...first!, ...second!]) expect(w.id).toMatch(/^pol_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await storedList(db, 'p2', 'post')).toEqual(first);
    expect((await storedList(db, 'p2', 'post'))[0]).toMatchObject({ direction: 'two_way', connection_config_key: 'conn', name: 'x name' });
    expect(await storedList(db, 'p1', 'pre')).toEqual(second);
  });

  it('reorders a list keeping every id, and touches only the rows that move', async () => {
    await seed(db, { p: ['a', 'b', 'c', 'd'] });
    const before = await storedList(db, 'p');
    const [after] = await withStateLock(db, 5000, (trx) =>
      saveWebhookLists(trx, [{ policy_key: 'p', phase: 'pre', current: before, next: ['c', 'b', 'a', 'd'].map((k) => hook(k)) }], LATER),
    );
    expect(keysOf(after!)).toEqual(['c', 'b', 'a', 'd']);
    expect(after!.map((w) => w.order)).toEqual([0, 1, 2, 3]);
    const idOf = (k: string) => before.find((w) => w.key === k)!.id;
    expect(after!.map((w) => w.id)).toEqual(['c', 'b', 'a', 'd'].map(idOf));
    expect(await storedList(db, 'p')).toEqual(after);
    expect(await updatedAt()).toEqual({ a: LATER, b: NOW, c: LATER, d: NOW });
  });

  it('swaps two names in one call although names are unique per phase', async () => {
    await seed(db, { p: ['a', 'b', 'c'] });
    const before = await storedList(db, 'p');
    await withStateLock(db, 5000, async (trx) => {
      await upsertConnections(trx, [{ config: connection('conn2') }], LATER);
      await saveWebhookLists(
        trx,
        [{ policy_key: 'p', phase: 'pre', current: before, next: [hook('a', { name: 'b name' }), hook('b', { name: 'a name' }), hook('c', { connection_config_key: 'conn2' })] }],
        LATER,
      );
    });
    const after = await storedList(db, 'p');
    expect(after.map((w) => [w.key, w.name, w.connection_config_key, w.id])).toEqual([
      ['a', 'b name', 'conn', before[0]!.id],
      ['b', 'a name', 'conn', before[1]!.id],
      ['c', 'c name', 'conn2', before[2]!.id],
    ]);
  });

  it("moves a key (and a name) from one policy's list to another's in one call", async () => {
    await seed(db, { pa: ['a', 'moving', 'b'], pb: ['c'] });
    const state = await readState(db.knex);
    const [listA, listB] = await withStateLock(db, 5000, (trx) =>
      saveWebhookLists(
        trx,
        [
          // pb's write comes first: the insert of 'moving' must still follow the delete in pa.
          { policy_key: 'pb', phase: 'pre', current: state.webhooks.pre.get('pb')!, next: [hook('moving'), hook('c'), hook('new', { name: 'b name' })] },
          { policy_key: 'pa', phase: 'pre', current: state.webhooks.pre.get('pa')!, next: [hook('a'), hook('b', { name: 'b renamed' })] },
        ],
        LATER,
      ),
    );
    expect(keysOf(listA!)).toEqual(['moving', 'c', 'new']);
    expect(keysOf(listB!)).toEqual(['a', 'b']);
    const after = await readState(db.knex);
    expect(after.webhooks.pre.get('pb')).toEqual(listA);
    expect(after.webhooks.pre.get('pa')).toEqual(listB);
    expect(after.webhooks.pre.get('pb')!.map((w) => w.order)).toEqual([0, 1, 2]);
    expect(after.webhooks.pre.get('pa')!.map((w) => [w.key, w.name, w.order])).toEqual([
      ['a', 'a name', 0],
      ['b', 'b renamed', 1],
    ]);
  });

  it('removes webhooks, closes the gaps, and empties a list', async () => {
    await seed(db, { p: ['a', 'b', 'c', 'd'], q: ['e', 'f'] });
    const state = await readState(db.knex);
    await withStateLock(db, 5000, (trx) =>
      saveWebhookLists(
        trx,
        [
          { policy_key: 'p', phase: 'pre', current: state.webhooks.pre.get('p')!, next: [hook('b'), hook('d'), hook('g')] },
          { policy_key: 'q', phase: 'pre', current: state.webhooks.pre.get('q')!, next: [] },
        ],
        LATER,
      ),
    );
    expect((await storedList(db, 'p')).map((w) => [w.key, w.order])).toEqual([
      ['b', 0],
      ['d', 1],
      ['g', 2],
    ]);
    expect(await storedList(db, 'q')).toEqual([]);
    expect(Number((await db.knex('webhooks').count({ n: '*' }).first())!.n)).toBe(3);
  });

  it('writes thousands of lists in one call, and reorders them all', async () => {
    const lists = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`p${i}`, Array.from({ length: 20 }, (_, j) => `p${i}_h${j}`)]));
    await seed(db, lists);
    let state = await readState(db.knex);
    expect([...state.webhooks.pre.values()].flat()).toHaveLength(40_000);
    expect(keysOf(state.webhooks.pre.get('p1999')!)).toEqual(lists.p1999);

    const reversed = await withStateLock(db, 30_000, (trx) =>
      saveWebhookLists(
        trx,
        [...state.webhooks.pre].map(([policy_key, current]) => ({ policy_key, phase: 'pre' as const, current, next: [...current].reverse() })),
        LATER,
      ),
    );
    state = await readState(db.knex);
    expect([...state.webhooks.pre.values()]).toEqual(reversed);
    expect(keysOf(state.webhooks.pre.get('p7')!)).toEqual([...lists.p7!].reverse());
  });

  it('refuses to delete a connection a webhook uses, naming both, and the whole apply rolls back', async () => {
    await seed(db, { p: ['a', 'b'] });
    const before = await readState(db.knex);
    const attempt = withStateLock(db, 5000, async (trx) => {
      await upsertPolicies(trx, [{ policy: { key: 'p', name: 'changed' } }, { policy: { key: 'added', name: 'added' } }], LATER);
      await saveWebhookLists(trx, [{ policy_key: 'p', phase: 'pre', current: before.webhooks.pre.get('p')!, next: [hook('b'), hook('c')] }], LATER);
      await bumpSerial(trx);
      await deleteConnections(trx, ['conn']);
    });
    await expect(attempt).rejects.toThrow(HookctlError);
    // 'a' is already gone in this transaction: the webhook named is one still there.
    await expect(attempt).rejects.toThrow("cannot delete connection 'conn': the pre webhook 'b' of policy 'p' still uses it");
    await expect(attempt).rejects.toHaveProperty('exitCode', 3);
    expect(await readState(db.knex)).toEqual(before);
  });

  it('deletes an unused connection, and a policy together with its lists', async () => {
    await seed(db, { p: ['a'], q: ['b'] });
    await withStateLock(db, 5000, async (trx) => {
      await upsertConnections(trx, [{ config: connection('unused') }], NOW);
      await saveWebhookLists(trx, [{ policy_key: 'p', phase: 'post', current: [], next: [hook('a')] }], NOW);
    });
    await withStateLock(db, 5000, async (trx) => {
      await deletePolicies(trx, ['p']);
      await deleteConnections(trx, ['unused']);
    });
    const state = await readState(db.knex);
    expect([...state.policies.keys()]).toEqual(['q']);
    expect([...state.connections.keys()]).toEqual(['conn']);
    expect(state.webhooks.post.get('p')).toBeUndefined();
    expect((await db.knex('webhooks').select('key')).map((r: { key: string }) => r.key)).toEqual(['b']);
  });

  it('the database itself rejects a key or a name used twice in a phase, and nothing of that apply stays', async () => {
    await seed(db, { p: ['a'], q: [] });
    const before = await readState(db.knex);
    const save = (policy: string, next: ReturnType<typeof hook>[]) =>
      withStateLock(db, 5000, async (trx) => {
        await bumpSerial(trx);
        await saveWebhookLists(trx, [{ policy_key: policy, phase: 'pre', current: before.webhooks.pre.get(policy)!, next }], LATER);
      });
    await expect(save('q', [hook('a', { name: 'other name' })])).rejects.toThrow(/unique|duplicate/i);
    await expect(save('q', [hook('other', { name: 'a name' })])).rejects.toThrow(/unique|duplicate/i);
    expect(await readState(db.knex)).toEqual(before);
    // The two phases are separate tables upstream: the same key and name may be in each once.
    await withStateLock(db, 5000, (trx) => saveWebhookLists(trx, [{ policy_key: 'q', phase: 'post', current: [], next: [hook('a')] }], LATER));
    expect(keysOf(await storedList(db, 'q', 'post'))).toEqual(['a']);
  });

  it('refuses a list that names one key twice', async () => {
    await seed(db, { p: ['a'] });
    const current = await storedList(db, 'p');
    const attempt = withStateLock(db, 5000, (trx) => saveWebhookLists(trx, [{ policy_key: 'p', phase: 'pre', current, next: [hook('a'), hook('b'), hook('a')] }], LATER));
    await expect(attempt).rejects.toThrow("the pre webhook list of policy 'p' has the key 'a' twice");
    expect(await storedList(db, 'p')).toEqual(current);
  });

  it('appends revisions and reads them newest first', async () => {
    const rev = (serial: number): Revision => ({
      serial,
      applied_at: `2030-01-0${serial}T00:00:00.000Z`,
      actor: 'ci',
      manifest_digest: `sha256:${serial}`,
      summary: { add: serial, change: 0, delete: 1, move: 2 },
      changes: [{ resource: 'policy', key: `p${serial}` }],
    });
    await withStateLock(db, 5000, async (trx) => {
      for (const serial of [1, 2, 3]) await appendRevision(trx, rev(serial));
    });
    expect(await readHistory(db.knex)).toEqual([rev(3), rev(2), rev(1)]);
    expect(await readHistory(db.knex, { limit: 2 })).toEqual([rev(3), rev(2)]);
  });
});
