/**
 * What serve answers a client written for Fides 2.x, on both backends: a policy's drp_action and
 * execution_timeframe (kept, returned, cleared when a PATCH omits them, never touched by apply),
 * policy DELETE, scoped OAuth clients made with POST /oauth/client, the connection_type filter,
 * and PUT secret's verify flag.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TEST_MASTER_KEY, freshBackends, type Backend } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { verifyApiToken } from '../../src/server/auth.js';
import { readState } from '../../src/state/config-store.js';
import { expectStatus, resetState, serial, startServer, type TestServer } from './api.js';
import { CONNECTION, POLICY, seedFixtures } from './fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('server_fides_routes');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('Fides 2.x routes of serve on %s', (backendName) => {
  let s: TestServer;
  let backend: Backend;
  beforeAll(async () => {
    backend = env.backends.find((b) => b.name === backendName)!;
    s = await startServer(backend);
  });
  afterAll(async () => s.close());
  beforeEach(async () => {
    await resetState(s.db);
    await s.db.knex('oauth_clients').del();
  });

  describe("a policy's drp_action and execution_timeframe", () => {
    it('are null until set, kept and returned, and cleared by a PATCH that omits them', async () => {
      const created = await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1' }] });
      expect(created.body).toEqual({ succeeded: [{ key: 'p1', name: 'P1', drp_action: null, execution_timeframe: null }], failed: [] });
      const set = await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1', drp_action: 'access', execution_timeframe: 45 }] });
      expect(set.body).toEqual({ succeeded: [{ key: 'p1', name: 'P1', drp_action: 'access', execution_timeframe: 45 }], failed: [] });
      expect((await s.request('GET', '/api/v1/policy/p1')).body).toEqual({ key: 'p1', name: 'P1', drp_action: 'access', execution_timeframe: 45 });
      const revision = (await s.db.knex('revisions').orderBy('serial', 'desc').first('changes')) as { changes: string };
      expect(JSON.parse(revision.changes)).toEqual([
        {
          kind: 'policy',
          action: 'update',
          key: 'p1',
          fields: [
            { field: 'drp_action', before: null, after: 'access' },
            { field: 'execution_timeframe', before: null, after: 45 },
          ],
        },
      ]);
      // The same values again change nothing.
      const before = await serial(s.db);
      await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1', drp_action: 'access', execution_timeframe: 45 }] });
      expect(await serial(s.db)).toBe(before);
      const cleared = await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'Renamed' }] });
      expect(cleared.body).toEqual({ succeeded: [{ key: 'p1', name: 'Renamed', drp_action: null, execution_timeframe: null }], failed: [] });
      expect(await serial(s.db)).toBe(before + 1);
    });

    it('refuse an unknown drp_action or a negative timeframe (422), and a drp_action another policy holds (failed)', async () => {
      const bad = await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1', drp_action: 'erase_everything' }] });
      expect(bad.status).toBe(422);
      expect((await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1', execution_timeframe: -1 }] })).status).toBe(422);
      await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1', drp_action: 'deletion' }] });
      const taken = await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p2', name: 'P2', drp_action: 'deletion' }] });
      expect(taken.body).toEqual({ succeeded: [], failed: [{ message: 'DRP Action deletion already exists in policy p1.', data: { key: 'p2', name: 'P2', drp_action: 'deletion' } }] });
      // Moving it within one request works when the holder gives it up first.
      const moved = await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1' }, { key: 'p2', name: 'P2', drp_action: 'deletion' }] });
      expect((moved.body as { failed: unknown[] }).failed).toEqual([]);
    });

    it('are left as they are by `hookctl apply`, which manages names only', async () => {
      await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1', drp_action: 'access', execution_timeframe: 30 }] });
      const file = path.join(backend.dir, 'manifests', 'drp.yaml');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'policy:\n  - key: p1\n    name: Renamed by apply\n    pre_execution_webhooks: []\n    post_execution_webhooks: []\n');
      const res = await runCli(['apply', '--auto-approve', file], { cwd: backend.dir, env: { HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, HOOKCTL_DATABASE_URL: backend.url } });
      expect([res.code, res.stderr]).toEqual([0, '']);
      expect((await s.request('GET', '/api/v1/dsr/policy/p1')).body).toEqual({ key: 'p1', name: 'Renamed by apply', drp_action: 'access', execution_timeframe: 30 });
    });
  });

  describe('DELETE /dsr/policy/{key}', () => {
    it('deletes a policy (204, a revision), and answers 404 once it is gone', async () => {
      await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'p1', name: 'P1' }] });
      const before = await serial(s.db);
      const res = await s.request('DELETE', '/api/v1/dsr/policy/p1');
      expect([res.status, res.text]).toEqual([204, '']);
      expect((await readState(s.db.knex)).policies.has('p1')).toBe(false);
      expect(await serial(s.db)).toBe(before + 1);
      const gone = await s.request('DELETE', '/api/v1/policy/p1');
      expect([gone.status, gone.body]).toEqual([404, { detail: 'No Policy found for key p1.' }]);
    });

    it('refuses (400) while the policy has webhooks, and (409) once a privacy request used it', async () => {
      await seedFixtures(s);
      const withHooks = await s.request('DELETE', `/api/v1/dsr/policy/${POLICY}`);
      expect(withHooks.status).toBe(400);
      expect((withHooks.body as { detail: string }).detail).toContain(`Cannot delete policy ${POLICY}: it has 4 webhook(s)`);
      await s.request('PATCH', '/api/v1/dsr/policy', { body: [{ key: 'used', name: 'Used' }] });
      expectStatus(await s.request('POST', '/api/v1/privacy-request', { body: [{ policy_key: 'used', identity: { email: 'a@example.com' } }] }), 200);
      const used = await s.request('DELETE', '/api/v1/dsr/policy/used');
      expect([used.status, used.body]).toEqual([409, { detail: 'Cannot delete policy used: it is referenced by one or more privacy requests.' }]);
      expect((await readState(s.db.knex)).policies.has('used')).toBe(true);
    });
  });

  describe('POST /oauth/client', () => {
    const tokenFor = async (clientId: string, clientSecret: string) =>
      fetch(`${s.base}/api/v1/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret }) });

    it('makes a client whose tokens carry exactly its scopes; only a hash of its secret is stored', async () => {
      const res = await s.request('POST', '/api/v1/oauth/client', { body: { name: 'CI', scopes: ['connection:read', 'policy:read'] } });
      expect(res.status).toBe(200);
      const { client_id, client_secret } = res.body as { client_id: string; client_secret: string };
      const token = await tokenFor(client_id, client_secret);
      expect(token.status).toBe(200);
      const { access_token } = (await token.json()) as { access_token: string };
      expect((await verifyApiToken(s.keys, access_token))?.scopes).toEqual(['connection:read', 'policy:read']);
      expect((await s.request('GET', '/api/v1/connection', { token: access_token })).status).toBe(200);
      expect((await s.request('PATCH', '/api/v1/connection', { token: access_token, body: [] })).status).toBe(403);
      expect(JSON.stringify(await s.db.knex('oauth_clients').select())).not.toContain(client_secret);
      expect((await tokenFor(client_id, `${client_secret}x`)).status).toBe(401);
      // The body of Fides up to 2.81, a bare array of scopes, works too.
      const legacy = await s.request('POST', '/api/v1/oauth/client', { body: ['webhook:read'] });
      expect(legacy.status).toBe(200);
    });

    it('refuses unknown scopes, and scopes the caller does not hold (403)', async () => {
      const unknown = await s.request('POST', '/api/v1/oauth/client', { body: { scopes: ['connection:everything'] } });
      expect(unknown.status).toBe(403);
      expect((unknown.body as { detail: string }).detail).toMatch(/^Invalid Scope\. Scopes must be one of \['connection:read', /);
      const limited = await s.token(['client:create', 'policy:read']);
      const escalate = await s.request('POST', '/api/v1/oauth/client', { token: limited, body: { scopes: ['policy:read', 'connection:delete'] } });
      expect([escalate.status, escalate.body]).toEqual([403, { detail: "Cannot assign scopes that you do not have. Missing scopes: ['connection:delete']" }]);
      expect(Number(((await s.db.knex('oauth_clients').count({ n: '*' }).first()) as { n: number | string }).n)).toBe(0);
    });
  });

  describe('connections as a Fides 2.x client reads them', () => {
    it('filters the list by connection_type (repeatable)', async () => {
      await s.request('PATCH', '/api/v1/connection', { body: [{ key: 'c1', name: 'C1', connection_type: 'https', access: 'read' }] });
      const https = await s.request('GET', '/api/v1/connection?connection_type=https');
      expect((https.body as { total: number }).total).toBe(1);
      const both = await s.request('GET', '/api/v1/connection?connection_type=postgres&connection_type=https');
      expect((both.body as { total: number }).total).toBe(1);
      const other = await s.request('GET', '/api/v1/connection?connection_type=postgres');
      expect(other.body).toEqual({ items: [], total: 0, page: 1, size: 50 });
    });

    it('answers test_status null to PUT secret with verify=false, skipped otherwise', async () => {
      await seedFixtures(s);
      const secrets = { url: 'https://hooks.example.com/a', authorization: 'Bearer fides-routes-secret' };
      const unverified = await s.request('PUT', `/api/v1/connection/${CONNECTION}/secret?verify=false`, { body: secrets });
      expect(unverified.body).toEqual({ msg: `Secrets updated for ConnectionConfig with key: ${CONNECTION}.`, test_status: null, failure_reason: null });
      const verified = await s.request('PUT', `/api/v1/connection/${CONNECTION}/secret?verify=true`, { body: secrets });
      expect((verified.body as { test_status: string }).test_status).toBe('skipped');
    });
  });
});
