/**
 * Connections, their secrets, and policies over real HTTP on both backends. Secrets are
 * write-only: checked here in responses, columns and revisions.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import { decryptConnectionSecrets, readState } from '../../src/state/config-store.js';
import { fingerprint } from '../../src/state/crypto.js';
import { expectStatus, resetState, serial, startServer, TEST_CLIENT_ID, type TestServer } from './api.js';
import { CONNECTION, POLICY, PRE_ONE_WAY, SECRET_AUTHORIZATION, SECRET_URL, pre, seedFixtures } from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('server_connections');
});
afterAll(async () => env.drop());

/** A policy's DSR fields (drp_action, execution_timeframe) are null until the API sets them, as in Fides. */
const NO_DSR = { drp_action: null, execution_timeframe: null };
const HTTPS = { key: 'webhook_key', name: 'My Post-Execution Webhook', connection_type: 'https', access: 'read' };

describe.each(['sqlite', 'postgres'] as const)('connections and policies on %s', (backendName) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(env.backends.find((b) => b.name === backendName)!);
  });
  afterAll(async () => {
    for (const body of s.seenBodies) {
      expect(body).not.toContain(SECRET_URL);
      expect(body).not.toContain(SECRET_AUTHORIZATION);
      expect(body).not.toContain('url-secret-1234');
    }
    await s.close();
  });
  beforeEach(async () => resetState(s.db));

  describe('PATCH /connection', () => {
    it('creates an https connection (origin api) and reports it under succeeded', async () => {
      const res = await s.request('PATCH', '/api/v1/connection', { body: [HTTPS] });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        succeeded: [
          {
            name: HTTPS.name,
            key: HTTPS.key,
            description: null,
            connection_type: 'https',
            access: 'read',
            created_at: expect.any(String),
            updated_at: expect.any(String),
            disabled: false,
            last_test_timestamp: null,
            last_test_succeeded: null,
            saas_config: null,
            timeout_ms: null,
          },
        ],
        failed: [],
      });
      expect((await readState(s.db.knex)).connections.get(HTTPS.key)?.origin).toBe('api');
    });

    it('reports other connection types under failed, with the item, and still writes the good ones', async () => {
      const pg = { key: 'db', name: 'A database', connection_type: 'postgres' };
      const res = await s.request('PATCH', '/api/v1/connection', { body: [pg, HTTPS] });
      const body = res.body as { succeeded: { key: string }[]; failed: { message: string; data: unknown }[] };
      expect(body.succeeded.map((c) => c.key)).toEqual([HTTPS.key]);
      expect(body.failed).toEqual([{ message: expect.stringContaining("Connection type 'postgres' is not supported"), data: pg }]);
      expect([...(await readState(s.db.knex)).connections.keys()]).toEqual([HTTPS.key]);
    });

    it('updates only the given fields, derives a missing key from the name, and rejects unknown fields (422)', async () => {
      await s.request('PATCH', '/api/v1/connection', { body: [{ ...HTTPS, description: 'first', timeout_ms: 5000 }] });
      const update = await s.request('PATCH', '/api/v1/connection', { body: [{ key: HTTPS.key, name: 'Renamed', connection_type: 'https' }] });
      expect((update.body as { succeeded: unknown[] }).succeeded[0]).toMatchObject({ name: 'Renamed', description: 'first', timeout_ms: 5000 });
      const derived = await s.request('PATCH', '/api/v1/connection', { body: [{ name: 'Identity Service', connection_type: 'https' }] });
      expect((derived.body as { succeeded: { key: string }[] }).succeeded[0]!.key).toBe('identity_service');
      const extra = await s.request('PATCH', '/api/v1/connection', { body: [{ ...HTTPS, secrets: { url: SECRET_URL } }] });
      expect([extra.status, extra.body]).toEqual([422, { detail: [{ loc: ['body', 0, 'secrets'], msg: 'extra fields not permitted', type: 'value_error.extra' }] }]);
    });

    it('bumps the serial only when something changes', async () => {
      const start = await serial(s.db);
      await s.request('PATCH', '/api/v1/connection', { body: [HTTPS] });
      expect(await serial(s.db)).toBe(start + 1);
      await s.request('PATCH', '/api/v1/connection', { body: [HTTPS] });
      expect(await serial(s.db)).toBe(start + 1);
    });
  });

  describe('GET and DELETE /connection', () => {
    it('lists connections paginated and gets one; unknown keys are 404', async () => {
      await s.request('PATCH', '/api/v1/connection', { body: [HTTPS, { key: 'a_conn', name: 'A connection', connection_type: 'https' }] });
      const list = await s.request('GET', '/api/v1/connection?size=1');
      expect(list.body).toMatchObject({ items: [{ key: 'a_conn' }], total: 2, page: 1, size: 1 });
      expect((await s.request('GET', `/api/v1/connection/${HTTPS.key}`)).body).toMatchObject({ key: HTTPS.key, name: HTTPS.name });
      const missing = await s.request('GET', '/api/v1/connection/nope');
      expect([missing.status, missing.body]).toEqual([404, { detail: "No connection configuration found with key 'nope'." }]);
    });

    it('refuses (400) to delete a connection that webhooks use; deletes it once they are gone', async () => {
      await seedFixtures(s);
      const refused = await s.request('DELETE', `/api/v1/connection/${CONNECTION}`);
      expect(refused.status).toBe(400);
      expect((refused.body as { detail: string }).detail).toContain(`Cannot delete connection '${CONNECTION}': it is used by`);
      expect((refused.body as { detail: string }).detail).toContain(PRE_ONE_WAY.key);
      expectStatus(await s.request('PUT', pre(), { body: [] }), 200);
      expectStatus(await s.request('PUT', `/api/v1/policy/${POLICY}/webhook/post_execution`, { body: [] }), 200);
      const deleted = await s.request('DELETE', `/api/v1/connection/${CONNECTION}`);
      expect(deleted.status).toBe(204);
      expect((await s.request('GET', `/api/v1/connection/${CONNECTION}`)).status).toBe(404);
      expect((await s.request('DELETE', `/api/v1/connection/${CONNECTION}`)).status).toBe(404);
    });
  });

  describe('PUT /connection/{key}/secret', () => {
    beforeEach(async () => {
      expectStatus(await s.request('PATCH', '/api/v1/connection', { body: [HTTPS] }), 200);
    });
    const put = (body: unknown, key = HTTPS.key) => s.request('PUT', `/api/v1/connection/${key}/secret`, { body });

    it('stores the secrets encrypted with fingerprints, and answers without echoing them', async () => {
      const before = await serial(s.db);
      const res = await put({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION });
      expect([res.status, res.body]).toEqual([
        200,
        { msg: `Secrets updated for ConnectionConfig with key: ${HTTPS.key}.`, test_status: 'skipped', failure_reason: null },
      ]);
      const row = (await s.db.knex('connections').where({ key: HTTPS.key }).first()) as Record<string, unknown>;
      const columns = JSON.stringify(row);
      expect(columns).not.toContain(SECRET_URL);
      expect(columns).not.toContain('url-secret-1234');
      expect(columns).not.toContain(SECRET_AUTHORIZATION);
      const stored = (await readState(s.db.knex)).connections.get(HTTPS.key)!;
      expect(decryptConnectionSecrets(s.keys, stored)).toEqual({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION });
      expect(stored.secret_fingerprints).toEqual({ url: expect.stringMatching(/^hmac-sha256\/v2:/), authorization: expect.stringMatching(/^hmac-sha256\/v2:/) });

      expect(await serial(s.db)).toBe(before + 1);
      const revisions = (await s.db.knex('revisions').orderBy('serial').select()) as { actor: string; changes: string }[];
      expect(JSON.stringify(revisions)).not.toContain('url-secret-1234');
      expect(JSON.stringify(revisions)).not.toContain(SECRET_AUTHORIZATION);
      expect([revisions.at(-1)!.actor, JSON.parse(revisions.at(-1)!.changes)]).toEqual([
        `api:${TEST_CLIENT_ID}`,
        [
          {
            kind: 'connection',
            action: 'update',
            key: HTTPS.key,
            fields: [
              { field: 'secrets.url', sensitive: true },
              { field: 'secrets.authorization', sensitive: true },
            ],
          },
        ],
      ]);

      // The same values again change nothing.
      expectStatus(await put({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION }), 200);
      expect(await serial(s.db)).toBe(before + 1);
      const shown = await s.request('GET', `/api/v1/connection/${HTTPS.key}`);
      expect(shown.text).not.toContain('secret');
    });

    it('rejects missing, empty and extra fields with 422', async () => {
      const missing = await put({ url: SECRET_URL });
      expect([missing.status, missing.body]).toEqual([422, { detail: [{ loc: ['body', 'authorization'], msg: 'field required', type: 'value_error.missing' }] }]);
      const extra = await put({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION, headers: {} });
      expect(extra.body).toEqual({ detail: [{ loc: ['body', 'headers'], msg: 'extra fields not permitted', type: 'value_error.extra' }] });
      expect((await put({ url: SECRET_URL, authorization: '' })).status).toBe(422);
    });

    it('rejects non-https URLs (http only on loopback) with a message that does not quote the URL', async () => {
      for (const url of ['http://example.com/hook?sig=url-secret-1234', 'example.com/url-secret-1234', 'ftp://example.com/url-secret-1234']) {
        const res = await put({ url, authorization: SECRET_AUTHORIZATION });
        expect(res.status).toBe(422);
        const [detail] = (res.body as { detail: { loc: unknown[]; msg: string }[] }).detail;
        expect(detail!.loc).toEqual(['body', 'url']);
        expect(detail!.msg).toMatch(/https/);
      }
      expect((await put({ url: 'http://127.0.0.1:8080/hook', authorization: SECRET_AUTHORIZATION })).status).toBe(200);
      expect((await put({ url: 'http://localhost/hook', authorization: SECRET_AUTHORIZATION })).status).toBe(200);
    });

    it('rejects (422) an authorization with CR, LF or NUL and a url with a user or password; stores nothing, quotes nothing', async () => {
      const before = await serial(s.db);
      const badAuthorization = ['Bearer planted-crlf-token\r\nX-Injected: 1', 'Bearer planted-lf-token\nX', 'Bearer planted-cr-token\rX', 'Bearer planted-nul-token\u0000'];
      for (const authorization of badAuthorization) {
        const res = await put({ url: SECRET_URL, authorization });
        expect([res.status, res.body]).toEqual([
          422,
          { detail: [{ loc: ['body', 'authorization'], msg: 'it contains a line break (CR or LF) or a NUL character, which a header value cannot hold', type: 'value_error' }] },
        ]);
      }
      const badUrls = ['https://alice:planted-pw@example.com/hook', 'https://alice@example.com/hook', 'http://bob:planted-pw@127.0.0.1:8080/hook'];
      for (const url of badUrls) {
        const res = await put({ url, authorization: SECRET_AUTHORIZATION });
        expect([res.status, res.body]).toEqual([
          422,
          {
            detail: [
              {
                loc: ['body', 'url'],
                msg: 'it carries a user name or password; put credentials in authorization instead; webhook URLs are checked when they are set, not when a privacy request calls them',
                type: 'value_error.url',
              },
            ],
          },
        ]);
      }
      const both = await put({ url: badUrls[0], authorization: badAuthorization[0] });
      expect((both.body as { detail: { loc: unknown[] }[] }).detail.map((d) => d.loc)).toEqual([
        ['body', 'url'],
        ['body', 'authorization'],
      ]);
      expect(await serial(s.db)).toBe(before);
      expect((await readState(s.db.knex)).connections.get(HTTPS.key)!.secrets_encrypted).toBeNull();
      for (const text of s.seenBodies) for (const planted of ['planted-', 'alice', 'X-Injected']) expect(text).not.toContain(planted);
    });

    it('two connections with the same secrets store different fingerprints; fingerprints of the old kind are no change', async () => {
      expectStatus(await s.request('PATCH', '/api/v1/connection', { body: [{ ...HTTPS, key: 'other_key' }] }), 200);
      expectStatus(await put({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION }), 200);
      expectStatus(await put({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION }, 'other_key'), 200);
      const rows = (await s.db.knex('connections').orderBy('key').select('key', 'secret_fingerprints')) as { secret_fingerprints: string }[];
      const [a, b] = rows.map((r) => JSON.parse(r.secret_fingerprints) as { url: string; authorization: string });
      expect(a!.url).not.toBe(b!.url);
      expect(a!.authorization).not.toBe(b!.authorization);

      // A state written before fingerprints were bound to connection and field.
      await s.db.knex('connections').update({ secret_fingerprints: JSON.stringify({ url: fingerprint(s.keys.fingerprint, SECRET_URL), authorization: fingerprint(s.keys.fingerprint, SECRET_AUTHORIZATION) }) });
      const before = await serial(s.db);
      expectStatus(await put({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION }), 200);
      expect(await serial(s.db)).toBe(before);
    });

    it('answers 404 for an unknown connection', async () => {
      const res = await put({ url: SECRET_URL, authorization: SECRET_AUTHORIZATION }, 'nope');
      expect([res.status, res.body]).toEqual([404, { detail: "No connection configuration found with key 'nope'." }]);
    });
  });

  describe('policies', () => {
    it('creates and updates policies by key, lists and gets them', async () => {
      const created = await s.request('PATCH', '/api/v1/policy', { body: [{ key: 'p1', name: 'Policy one' }, { name: 'Derived Key Policy' }] });
      expect(created.body).toEqual({ succeeded: [{ key: 'p1', name: 'Policy one', ...NO_DSR }, { key: 'derived_key_policy', name: 'Derived Key Policy', ...NO_DSR }], failed: [] });
      expect((await readState(s.db.knex)).policies.get('p1')?.origin).toBe('api');
      const renamed = await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'Policy 1' }] });
      expect(renamed.body).toEqual({ succeeded: [{ key: 'p1', name: 'Policy 1', ...NO_DSR }], failed: [] });
      expect((await s.request('GET', '/api/v1/policy')).body).toEqual({
        items: [
          { key: 'derived_key_policy', name: 'Derived Key Policy', ...NO_DSR },
          { key: 'p1', name: 'Policy 1', ...NO_DSR },
        ],
        total: 2,
        page: 1,
        size: 50,
      });
      expect((await s.request('GET', '/api/v1/policy/p1')).body).toEqual({ key: 'p1', name: 'Policy 1', ...NO_DSR });
    });

    it('answers 404 for an unknown policy, 422 for a bad key, and reports underivable keys as failed', async () => {
      const missing = await s.request('GET', '/api/v1/policy/my_fake_policy');
      expect([missing.status, missing.body]).toEqual([404, { detail: 'No Policy found for key my_fake_policy.' }]);
      expect((await s.request('PATCH', '/api/v1/policy', { body: [{ key: 'bad key', name: 'x' }] })).status).toBe(422);
      const underivable = await s.request('PATCH', '/api/v1/policy', { body: [{ name: '!!!' }] });
      expect(underivable.body).toEqual({ succeeded: [], failed: [{ message: expect.stringContaining('not a valid FidesKey'), data: { name: '!!!' } }] });
    });
  });
});
