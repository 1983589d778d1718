/**
 * The policy-webhook routes against upstream's endpoint tests (reference §8.1) and the chosen
 * behaviour of the cases upstream never tested (§8.8, with the contract's improvements), over
 * real HTTP, on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import { withStateLock } from '../../src/state/lock.js';
import { expectStatus, resetState, serial, startServer, TEST_CLIENT_ID, type TestServer } from './api.js';
import {
  CONNECTION,
  ERASURE_POLICY,
  POLICY,
  POST_CACHE,
  POST_CLEANUP,
  PRE_ONE_WAY,
  PRE_TWO_WAY,
  SECRET_AUTHORIZATION,
  SECRET_URL,
  post,
  pre,
  seedFixtures,
  webhookResponse,
} from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('server_webhooks');
});
afterAll(async () => env.drop());

const VALID_PRE = { connection_config_key: CONNECTION, direction: 'one_way', name: 'Poke Snowflake Webhook', key: 'poke_snowflake_webhook' };
const VALID_POST = { connection_config_key: CONNECTION, direction: 'one_way', name: 'Clear App Cache', key: 'clear_app_cache' };
const NOT_AUTHORIZED = { detail: 'Not Authorized for this action' };
const FAILED_AUTH = { detail: 'Failed to authenticate' };
const DUPLICATES = { detail: 'Check request body: there are multiple webhooks whose keys or names resolve to the same value.' };

describe.each(['sqlite', 'postgres'] as const)('webhook routes on %s', (backendName) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(env.backends.find((b) => b.name === backendName)!, { lockTimeoutMs: 500 });
  });
  afterAll(async () => {
    // Whatever happened above, no response ever carried a secret value.
    for (const body of s.seenBodies) {
      expect(body).not.toContain(SECRET_URL);
      expect(body).not.toContain(SECRET_AUTHORIZATION);
    }
    await s.close();
  });
  beforeEach(async () => {
    await resetState(s.db);
    await seedFixtures(s);
  });

  const keysOf = async (path: string) => ((await s.request('GET', path)).body as { items: { key: string }[] }).items.map((w) => w.key);

  describe('GET list', () => {
    it('needs a bearer token (401) and the webhook:read scope (403)', async () => {
      for (const path of [pre(), post()]) {
        const anon = await s.request('GET', path, { token: null });
        expect(anon.status).toBe(401);
        expect(anon.body).toEqual(FAILED_AUTH);
        expect(anon.headers.get('www-authenticate')).toBe('Bearer');
        const wrong = await s.request('GET', path, { token: await s.token(['policy:read']) });
        expect([wrong.status, wrong.body]).toEqual([403, NOT_AUTHORIZED]);
      }
    });

    it('answers 404 for an unknown policy', async () => {
      for (const path of [pre('my_fake_policy'), post('my_fake_policy')]) {
        const res = await s.request('GET', path, { token: await s.token(['webhook:read']) });
        expect([res.status, res.body]).toEqual([404, { detail: 'No Policy found for key my_fake_policy.' }]);
      }
    });

    it('lists the pre-execution webhooks by order, paginated', async () => {
      const res = await s.request('GET', pre(), { token: await s.token(['webhook:read']) });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [webhookResponse(PRE_ONE_WAY, 0), webhookResponse(PRE_TWO_WAY, 1)], total: 2, page: 1, size: 50 });
    });

    it('lists the post-execution webhooks by order', async () => {
      const res = await s.request('GET', post());
      expect(res.body).toEqual({ items: [webhookResponse(POST_CACHE, 0), webhookResponse(POST_CLEANUP, 1)], total: 2, page: 1, size: 50 });
    });

    it('pages with page and size, and rejects out-of-range values with 422', async () => {
      const second = await s.request('GET', `${pre()}?page=2&size=1`);
      expect(second.body).toEqual({ items: [webhookResponse(PRE_TWO_WAY, 1)], total: 2, page: 2, size: 1 });
      const tooBig = await s.request('GET', `${pre()}?size=101`);
      expect(tooBig.status).toBe(422);
      expect(tooBig.body).toEqual({ detail: [{ loc: ['query', 'size'], msg: 'ensure this value is less than or equal to 100', type: 'value_error.number.not_le' }] });
      expect((await s.request('GET', `${pre()}?page=0`)).status).toBe(422);
      expect((await s.request('GET', `${pre()}?page=abc`)).status).toBe(422);
    });

    it('is also served under /api/v1/dsr/policy and with a trailing slash', async () => {
      const plain = await s.request('GET', pre());
      const dsr = await s.request('GET', `/api/v1/dsr/policy/${POLICY}/webhook/pre_execution`);
      const slash = await s.request('GET', `${pre()}/`);
      expect(dsr.body).toEqual(plain.body);
      expect(slash.body).toEqual(plain.body);
    });

    it('validates path keys as FidesKeys (422)', async () => {
      const res = await s.request('GET', '/api/v1/policy/bad%20key!/webhook/pre_execution');
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        detail: [{ loc: ['path', 'policy_key'], msg: "FidesKey must only contain alphanumeric characters, '.', '_' or '-'.", type: 'value_error' }],
      });
    });
  });

  describe('GET one', () => {
    it('needs auth and scope, and knows unknown policies', async () => {
      for (const path of [`${pre()}/${PRE_ONE_WAY.key}`, `${post()}/${POST_CACHE.key}`]) {
        expect((await s.request('GET', path, { token: null })).status).toBe(401);
        expect((await s.request('GET', path, { token: await s.token(['policy:read']) })).status).toBe(403);
      }
      for (const path of [`${pre('my_fake_policy')}/${PRE_ONE_WAY.key}`, `${post('my_fake_policy')}/${POST_CACHE.key}`]) {
        const res = await s.request('GET', path);
        expect([res.status, res.body]).toEqual([404, { detail: 'No Policy found for key my_fake_policy.' }]);
      }
    });

    it('answers 404 for a webhook of another policy', async () => {
      const preRes = await s.request('GET', `${pre(ERASURE_POLICY)}/${PRE_ONE_WAY.key}`);
      expect([preRes.status, preRes.body]).toEqual([
        404,
        { detail: "No Pre-Execution Webhook found for key 'pre_execution_one_way_webhook' on Policy 'example_erasure_policy'." },
      ]);
      const postRes = await s.request('GET', `${post(ERASURE_POLICY)}/${POST_CACHE.key}`);
      expect([postRes.status, postRes.body]).toEqual([
        404,
        { detail: "No Post-Execution Webhook found for key 'cache_busting_webhook' on Policy 'example_erasure_policy'." },
      ]);
    });

    it('returns the webhook with its connection', async () => {
      const token = await s.token(['webhook:read']);
      expect((await s.request('GET', `${pre()}/${PRE_ONE_WAY.key}`, { token })).body).toEqual(webhookResponse(PRE_ONE_WAY, 0));
      expect((await s.request('GET', `${post()}/${POST_CACHE.key}`, { token })).body).toEqual(webhookResponse(POST_CACHE, 0));
    });
  });

  describe('PUT list', () => {
    it('checks auth before the body: no auth and no body is 401, a read token is 403', async () => {
      for (const path of [pre(), post()]) {
        const anon = await s.request('PUT', path, { token: null });
        expect([anon.status, anon.body]).toEqual([401, FAILED_AUTH]);
        const malformed = await s.request('PUT', path, { token: null, rawBody: '{not json', headers: { 'content-type': 'application/json' } });
        expect(malformed.status).toBe(401);
        const wrong = await s.request('PUT', path, { token: await s.token(['webhook:read']), rawBody: '{not json', headers: { 'content-type': 'application/json' } });
        expect([wrong.status, wrong.body]).toEqual([403, NOT_AUTHORIZED]);
      }
    });

    it('answers 404 for an unknown policy and writes nothing', async () => {
      const res = await s.request('PUT', pre('my_fake_policy'), { body: [VALID_PRE], token: await s.token(['webhook:create_or_update']) });
      expect([res.status, res.body]).toEqual([404, { detail: 'No Policy found for key my_fake_policy.' }]);
      expect(await keysOf(pre())).toEqual([PRE_ONE_WAY.key, PRE_TWO_WAY.key]);
      expect(await s.db.knex('webhooks').where({ key: VALID_PRE.key })).toEqual([]);
    });

    it('answers 404 for an unknown connection and saves no item, not even the valid first one', async () => {
      const res = await s.request('PUT', pre(), {
        body: [VALID_PRE, { connection_config_key: 'unknown_connection_key', direction: 'one_way', name: 'my_pre_execution_webhook' }],
      });
      expect([res.status, res.body]).toEqual([404, { detail: "No connection configuration found with key 'unknown_connection_key'." }]);
      expect(await keysOf(pre())).toEqual([PRE_ONE_WAY.key, PRE_TWO_WAY.key]);
    });

    it('rejects a bad direction with 422 and the enumeration message, writing nothing', async () => {
      const res = await s.request('PUT', pre(), { body: [VALID_PRE, { ...VALID_PRE, key: 'other', name: 'Other', direction: 'invalid_direction' }] });
      expect(res.status).toBe(422);
      const detail = (res.body as { detail: { loc: unknown[]; msg: string; type: string }[] }).detail;
      expect(detail[0]).toEqual({
        loc: ['body', 1, 'direction'],
        msg: "value is not a valid enumeration member; permitted: 'one_way', 'two_way'",
        type: 'type_error.enum',
      });
      expect(await keysOf(pre())).toEqual([PRE_ONE_WAY.key, PRE_TWO_WAY.key]);
    });

    it('rejects duplicate keys, and a name whose derived key collides, with 400', async () => {
      for (const body of [
        [VALID_PRE, VALID_PRE],
        [VALID_PRE, { connection_config_key: CONNECTION, direction: 'one_way', name: 'Poke Snowflake Webhook' }],
        [VALID_PRE, { ...VALID_PRE, key: 'another_key' }],
      ]) {
        const res = await s.request('PUT', pre(), { body });
        expect([res.status, res.body]).toEqual([400, DUPLICATES]);
      }
      expect(await keysOf(pre())).toEqual([PRE_ONE_WAY.key, PRE_TWO_WAY.key]);
    });

    it('creates several webhooks, deriving a missing key from the name, in request order', async () => {
      const res = await s.request('PUT', pre(), {
        token: await s.token(['webhook:create_or_update']),
        body: [VALID_PRE, { connection_config_key: CONNECTION, direction: 'two_way', name: 'My Pre Execution Webhook' }],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual([
        webhookResponse({ key: 'poke_snowflake_webhook', name: 'Poke Snowflake Webhook', direction: 'one_way' }, 0),
        webhookResponse({ key: 'my_pre_execution_webhook', name: 'My Pre Execution Webhook', direction: 'two_way' }, 1),
      ]);
      expect(await keysOf(pre())).toEqual(['poke_snowflake_webhook', 'my_pre_execution_webhook']);
    });

    it('creates several post-execution webhooks', async () => {
      const res = await s.request('PUT', post(), {
        body: [VALID_POST, { connection_config_key: CONNECTION, direction: 'two_way', name: 'My Post Execution Webhook' }],
      });
      expect(res.body).toEqual([
        webhookResponse({ key: 'clear_app_cache', name: 'Clear App Cache', direction: 'one_way' }, 0),
        webhookResponse({ key: 'my_post_execution_webhook', name: 'My Post Execution Webhook', direction: 'two_way' }, 1),
      ]);
    });

    it('reorders existing webhooks and keeps their identity', async () => {
      const idsBefore = await s.db.knex('webhooks').where({ phase: 'pre' }).orderBy('key').select('key', 'id');
      const item = (w: typeof PRE_ONE_WAY | typeof PRE_TWO_WAY) => ({ ...w, connection_config_key: CONNECTION });
      const res = await s.request('PUT', pre(), { body: [item(PRE_TWO_WAY), item(PRE_ONE_WAY)] });
      expect(res.body).toEqual([webhookResponse(PRE_TWO_WAY, 0), webhookResponse(PRE_ONE_WAY, 1)]);
      expect(await s.db.knex('webhooks').where({ phase: 'pre' }).orderBy('key').select('key', 'id')).toEqual(idsBefore);
    });

    it('deletes the webhooks left out of the request', async () => {
      const res = await s.request('PUT', pre(), { body: [{ ...PRE_ONE_WAY, connection_config_key: CONNECTION }] });
      expect(res.body).toEqual([webhookResponse(PRE_ONE_WAY, 0)]);
      expect(await keysOf(pre())).toEqual([PRE_ONE_WAY.key]);
    });

    it('deletes every webhook of the list on PUT []', async () => {
      const res = await s.request('PUT', pre(), { body: [] });
      expect([res.status, res.body]).toEqual([200, []]);
      expect(((await s.request('GET', pre())).body as { total: number }).total).toBe(0);
      expect(await keysOf(post())).toEqual([POST_CACHE.key, POST_CLEANUP.key]);
    });

    it('rejects 51 items with 422', async () => {
      const body = Array.from({ length: 51 }, (_, i) => ({ connection_config_key: CONNECTION, direction: 'one_way', name: `Hook ${i}` }));
      const res = await s.request('PUT', pre(), { body });
      expect([res.status, res.body]).toEqual([422, { detail: [{ loc: ['body'], msg: 'ensure this value has at most 50 items', type: 'value_error.list.max_items' }] }]);
      const fifty = await s.request('PUT', pre(), { body: body.slice(0, 50) });
      expect(fifty.status).toBe(200);
      expect((fifty.body as unknown[]).length).toBe(50);
    });

    it('rejects two key-only items as duplicate (missing) names', async () => {
      const res = await s.request('PUT', pre(), {
        body: [
          { key: PRE_ONE_WAY.key, connection_config_key: CONNECTION, direction: 'one_way' },
          { key: PRE_TWO_WAY.key, connection_config_key: CONNECTION, direction: 'two_way' },
        ],
      });
      expect([res.status, res.body]).toEqual([400, DUPLICATES]);
    });

    it('keeps the stored name of an existing webhook given by key only', async () => {
      const res = await s.request('PUT', pre(), { body: [{ key: PRE_TWO_WAY.key, connection_config_key: CONNECTION, direction: 'one_way' }] });
      expect(res.body).toEqual([webhookResponse({ ...PRE_TWO_WAY, direction: 'one_way' }, 0)]);
    });

    it('refuses (400) a key that belongs to another policy instead of moving that webhook', async () => {
      const res = await s.request('PUT', pre(ERASURE_POLICY), { body: [{ ...PRE_ONE_WAY, connection_config_key: CONNECTION }] });
      expect(res.status).toBe(400);
      expect((res.body as { detail: string }).detail).toContain("already belongs to Policy 'example_access_request_policy'");
      expect(await keysOf(pre())).toEqual([PRE_ONE_WAY.key, PRE_TWO_WAY.key]);
      expect(await keysOf(pre(ERASURE_POLICY))).toEqual([]);
    });

    it('refuses (400) a name that a webhook with another key holds', async () => {
      const res = await s.request('PUT', pre(ERASURE_POLICY), {
        body: [{ key: 'brand_new', name: PRE_ONE_WAY.name, connection_config_key: CONNECTION, direction: 'one_way' }],
      });
      expect([res.status, res.body]).toEqual([400, { detail: `Name ${PRE_ONE_WAY.name} already exists in PolicyPreWebhook.` }]);
    });

    it('lets two webhooks of the list swap names', async () => {
      const res = await s.request('PUT', pre(), {
        body: [
          { ...PRE_ONE_WAY, name: PRE_TWO_WAY.name, connection_config_key: CONNECTION },
          { ...PRE_TWO_WAY, name: PRE_ONE_WAY.name, connection_config_key: CONNECTION },
        ],
      });
      expect(res.status).toBe(200);
      expect(((await s.request('GET', `${pre()}/${PRE_ONE_WAY.key}`)).body as { name: string }).name).toBe(PRE_TWO_WAY.name);
    });

    it('is atomic: a failing item leaves the list exactly as before, also when earlier items update existing rows', async () => {
      const before = await s.request('GET', pre());
      const serialBefore = await serial(s.db);
      const res = await s.request('PUT', pre(), {
        body: [
          { ...PRE_TWO_WAY, name: 'Renamed two way', direction: 'one_way', connection_config_key: CONNECTION },
          { ...PRE_ONE_WAY, connection_config_key: CONNECTION },
          { key: 'new_one', name: 'New one', connection_config_key: 'unknown_connection_key', direction: 'one_way' },
        ],
      });
      expect(res.status).toBe(404);
      expect((await s.request('GET', pre())).body).toEqual(before.body);
      expect(await serial(s.db)).toBe(serialBefore);
    });
  });

  describe('PATCH one', () => {
    const one = () => `${pre()}/${PRE_ONE_WAY.key}`;

    it('needs auth (401) and the create_or_update scope (403)', async () => {
      for (const path of [one(), `${post()}/${POST_CACHE.key}`]) {
        expect((await s.request('PATCH', path, { token: null })).status).toBe(401);
        expect((await s.request('PATCH', path, { token: await s.token(['webhook:read']) })).status).toBe(403);
      }
    });

    it('answers 404 for an unknown webhook key', async () => {
      const res = await s.request('PATCH', `${pre()}/invalid_webhook_key`, {
        token: await s.token(['webhook:create_or_update']),
        body: { name: 'Renaming this webhook' },
      });
      expect([res.status, res.body]).toEqual([
        404,
        { detail: "No Pre-Execution Webhook found for key 'invalid_webhook_key' on Policy 'example_access_request_policy'." },
      ]);
    });

    it('refuses an order out of range (5 and -1) with 400', async () => {
      for (const order of [5, -1]) {
        const res = await s.request('PATCH', one(), { body: { order } });
        expect([res.status, res.body]).toEqual([
          400,
          { detail: `Cannot set order to ${order}: there are only 2 PolicyPreWebhook(s) defined on this Policy.` },
        ]);
      }
    });

    it('changes nothing at all when the order is invalid, not even the name given with it', async () => {
      const res = await s.request('PATCH', one(), { body: { name: 'Renaming this webhook', order: 5 } });
      expect(res.status).toBe(400);
      expect(((await s.request('GET', one())).body as { name: string }).name).toBe(PRE_ONE_WAY.name);
    });

    it('renames only: new_order is empty and the order stays', async () => {
      const res = await s.request('PATCH', one(), { body: { name: 'Renaming this webhook' } });
      expect([res.status, res.body]).toEqual([200, { resource: webhookResponse({ ...PRE_ONE_WAY, name: 'Renaming this webhook' }, 0), new_order: [] }]);
      expect(((await s.request('GET', one())).body as { order: number }).order).toBe(0);
    });

    it('renames and reorders: new_order lists the whole list', async () => {
      const res = await s.request('PATCH', one(), { body: { name: 'Renaming this webhook', order: 1 } });
      expect(res.body).toEqual({
        resource: webhookResponse({ ...PRE_ONE_WAY, name: 'Renaming this webhook' }, 1),
        new_order: [
          { key: PRE_TWO_WAY.key, order: 0 },
          { key: PRE_ONE_WAY.key, order: 1 },
        ],
      });
      expect(await keysOf(pre())).toEqual([PRE_TWO_WAY.key, PRE_ONE_WAY.key]);
    });

    it('renames, reorders and changes the direction of a post-execution webhook', async () => {
      const res = await s.request('PATCH', `${post()}/${POST_CACHE.key}`, { body: { name: 'Better Webhook Name', order: 1, direction: 'two_way' } });
      expect(res.body).toEqual({
        resource: webhookResponse({ key: POST_CACHE.key, name: 'Better Webhook Name', direction: 'two_way' }, 1),
        new_order: [
          { key: POST_CLEANUP.key, order: 0 },
          { key: POST_CACHE.key, order: 1 },
        ],
      });
    });

    it('answers new_order [] for the current order, and 200 with no change for {}', async () => {
      const serialBefore = await serial(s.db);
      const same = await s.request('PATCH', one(), { body: { order: 0 } });
      expect([same.status, (same.body as { new_order: unknown }).new_order]).toEqual([200, []]);
      const empty = await s.request('PATCH', one(), { body: {} });
      expect([empty.status, empty.body]).toEqual([200, { resource: webhookResponse(PRE_ONE_WAY, 0), new_order: [] }]);
      // Upstream drops null fields: nothing can be set to null.
      const nulls = await s.request('PATCH', one(), { body: { name: null, direction: null, connection_config_key: null, order: null } });
      expect([nulls.status, nulls.body]).toEqual([200, { resource: webhookResponse(PRE_ONE_WAY, 0), new_order: [] }]);
      expect(await serial(s.db)).toBe(serialBefore);
    });

    it('forbids other fields, such as the key (422)', async () => {
      const res = await s.request('PATCH', one(), { body: { key: 'x' } });
      expect([res.status, res.body]).toEqual([422, { detail: [{ loc: ['body', 'key'], msg: 'extra fields not permitted', type: 'value_error.extra' }] }]);
    });

    it('refuses a name held by another webhook with 400, not 500', async () => {
      const res = await s.request('PATCH', one(), { body: { name: PRE_TWO_WAY.name } });
      expect([res.status, res.body]).toEqual([400, { detail: `Name ${PRE_TWO_WAY.name} already exists in PolicyPreWebhook.` }]);
    });

    it('answers 404 for an unknown connection', async () => {
      const res = await s.request('PATCH', one(), { body: { connection_config_key: 'nope' } });
      expect([res.status, res.body]).toEqual([404, { detail: "No connection configuration found with key 'nope'." }]);
    });

    it('is served under /api/v1/dsr/policy too', async () => {
      const res = await s.request('PATCH', `/api/v1/dsr/policy/${POLICY}/webhook/pre_execution/${PRE_ONE_WAY.key}/`, { body: { direction: 'two_way' } });
      expect((res.body as { resource: { direction: string } }).resource.direction).toBe('two_way');
    });
  });

  describe('DELETE one', () => {
    it('needs auth (401) and the webhook:delete scope (403)', async () => {
      for (const path of [`${pre()}/${PRE_ONE_WAY.key}`, `${post()}/${POST_CACHE.key}`]) {
        expect((await s.request('DELETE', path, { token: null })).status).toBe(401);
        expect((await s.request('DELETE', path, { token: await s.token(['webhook:read']) })).status).toBe(403);
      }
    });

    it('deletes the first pre-execution webhook and reorders the rest', async () => {
      const res = await s.request('DELETE', `${pre()}/${PRE_ONE_WAY.key}`, { token: await s.token(['webhook:delete']) });
      expect([res.status, res.body]).toEqual([200, { new_order: [{ key: PRE_TWO_WAY.key, order: 0 }] }]);
      expect(await keysOf(pre())).toEqual([PRE_TWO_WAY.key]);
    });

    it('deletes post-execution webhooks down to none', async () => {
      const first = await s.request('DELETE', `${post()}/${POST_CACHE.key}`);
      expect(first.body).toEqual({ new_order: [{ key: POST_CLEANUP.key, order: 0 }] });
      const last = await s.request('DELETE', `${post()}/${POST_CLEANUP.key}`);
      expect(last.body).toEqual({ new_order: [] });
      expect(await keysOf(post())).toEqual([]);
    });

    it('deletes the middle one of three', async () => {
      const items = ['a', 'b', 'c'].map((k) => ({ key: k, name: `Hook ${k}`, connection_config_key: CONNECTION, direction: 'one_way' }));
      expectStatus(await s.request('PUT', pre(), { body: items }), 200);
      const res = await s.request('DELETE', `${pre()}/b`);
      expect(res.body).toEqual({ new_order: [{ key: 'a', order: 0 }, { key: 'c', order: 1 }] });
      expect(await keysOf(pre())).toEqual(['a', 'c']);
    });

    it('answers 404 for a webhook of another policy', async () => {
      const res = await s.request('DELETE', `${pre(ERASURE_POLICY)}/${PRE_ONE_WAY.key}`);
      expect(res.status).toBe(404);
      expect(await keysOf(pre())).toEqual([PRE_ONE_WAY.key, PRE_TWO_WAY.key]);
    });
  });

  describe('state serial and history', () => {
    it('bumps the serial and records an api revision for a change, and not for a no-op', async () => {
      const before = await serial(s.db);
      const item = (w: typeof PRE_ONE_WAY | typeof PRE_TWO_WAY) => ({ ...w, connection_config_key: CONNECTION });
      expectStatus(await s.request('PUT', pre(), { body: [item(PRE_TWO_WAY), item(PRE_ONE_WAY)] }), 200);
      expect(await serial(s.db)).toBe(before + 1);
      const rev = (await s.db.knex('revisions').orderBy('serial', 'desc').first()) as { serial: number; actor: string; summary: string };
      expect([rev.serial, rev.actor, JSON.parse(rev.summary)]).toEqual([before + 1, `api:${TEST_CLIENT_ID}`, { add: 0, change: 0, delete: 0, move: 1 }]);

      expectStatus(await s.request('PUT', pre(), { body: [item(PRE_TWO_WAY), item(PRE_ONE_WAY)] }), 200);
      expect(await serial(s.db)).toBe(before + 1);
      expectStatus(await s.request('DELETE', `${pre()}/${PRE_ONE_WAY.key}`), 200);
      expect(await serial(s.db)).toBe(before + 2);
    });

    it('serializes concurrent writes: every PUT succeeds and the list ends as one of them', async () => {
      const items = ['a', 'b', 'c', 'd', 'e'].map((k) => ({ key: k, name: `Hook ${k}`, connection_config_key: CONNECTION, direction: 'one_way' }));
      const permutations = Array.from({ length: 8 }, (_, i) => [...items.slice(i % 5), ...items.slice(0, i % 5)]);
      const results = await Promise.all(permutations.map((body) => s.request('PUT', pre(), { body })));
      // The body of any failure is in the diff.
      expect(results.map((r) => (r.status === 200 ? 200 : r.text))).toEqual(permutations.map(() => 200));
      const final = await keysOf(pre());
      expect(permutations.map((p) => p.map((w) => w.key).join())).toContain(final.join());
      const orders = ((await s.request('GET', pre())).body as { items: { order: number }[] }).items.map((w) => w.order);
      expect(orders).toEqual([0, 1, 2, 3, 4]);
    });

    it('answers 503 while an apply holds the state lock, and writes nothing', async () => {
      const before = await s.request('GET', pre());
      let entered!: () => void;
      let release!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const held = new Promise<void>((resolve) => (release = resolve));
      const apply = withStateLock(s.db, 5_000, async () => {
        entered();
        await held;
      });
      await inside;
      const res = await s.request('PUT', pre(), { body: [] });
      release();
      await apply;
      expect(res.status).toBe(503);
      expect((res.body as { detail: string }).detail).toMatch(/locked/);
      expect((await s.request('GET', pre())).body).toEqual(before.body);
    });
  });
});
