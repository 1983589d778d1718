/**
 * Authentication and authorization of every route: bearer API tokens (JWE under the state's
 * key), the root OAuth client, 401 before 403 before anything about the body.
 */
import { CompactEncrypt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import { issueApiToken, SCOPES, verifyApiToken, type Scope } from '../../src/server/auth.js';
import { buildServer } from '../../src/server/app.js';
import { deriveKeys } from '../../src/state/keys.js';
import { ROOT_CLIENT, startServer, type TestServer } from './api.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
let s: TestServer;
beforeAll(async () => {
  env = await freshBackends('server_auth');
  s = await startServer(env.backends.find((b) => b.name === 'sqlite')!);
});
afterAll(async () => {
  await s?.close();
  await env.drop();
});

/** Every authenticated route with the scope it needs (one concrete path each). */
const ROUTES: [method: string, path: string, scope: Scope][] = [
  ['GET', '/api/v1/connection', 'connection:read'],
  ['PATCH', '/api/v1/connection', 'connection:create_or_update'],
  ['GET', '/api/v1/connection/c1', 'connection:read'],
  ['DELETE', '/api/v1/connection/c1', 'connection:delete'],
  ['PUT', '/api/v1/connection/c1/secret', 'connection:create_or_update'],
  // Policies and their webhooks answer under /policy and /dsr/policy alike.
  ...['/api/v1', '/api/v1/dsr'].flatMap((prefix): [string, string, Scope][] => [
    ['GET', `${prefix}/policy`, 'policy:read'],
    ['PATCH', `${prefix}/policy`, 'policy:create_or_update'],
    ['GET', `${prefix}/policy/p1`, 'policy:read'],
    ...(['pre_execution', 'post_execution'] as const).flatMap((phase): [string, string, Scope][] => [
      ['GET', `${prefix}/policy/p1/webhook/${phase}`, 'webhook:read'],
      ['PUT', `${prefix}/policy/p1/webhook/${phase}`, 'webhook:create_or_update'],
      ['GET', `${prefix}/policy/p1/webhook/${phase}/w1`, 'webhook:read'],
      ['PATCH', `${prefix}/policy/p1/webhook/${phase}/w1`, 'webhook:create_or_update'],
      ['DELETE', `${prefix}/policy/p1/webhook/${phase}/w1`, 'webhook:delete'],
    ]),
  ]),
  ['POST', '/api/v1/privacy-request', 'privacy-request:create'],
  ['GET', '/api/v1/privacy-request', 'privacy-request:read'],
  ['GET', '/api/v1/privacy-request/pri_1', 'privacy-request:read'],
  ['POST', '/api/v1/privacy-request/pri_1/retry', 'privacy-request:resume'],
];

describe('route authorization', () => {
  it('covers every route of the server', () => {
    const registered = s.app.printRoutes({ commonPrefix: false });
    // A route added without an entry above would go untested: count the methods fastify knows.
    const methods = registered.match(/\b(GET|PUT|PATCH|POST|DELETE)\b/g)?.length ?? 0;
    const unauthenticated = 7; // health and health/database ×2 (root, prefix), oauth/token, resume ×2 (reply-to token)
    expect(methods).toBe(ROUTES.length + unauthenticated);
  });

  it.each(ROUTES)('%s %s: 401 without a bearer, 403 without its scope, then it passes auth', async (method, path, scope) => {
    const anon = await s.request(method, path, { token: null });
    expect([anon.status, anon.body, anon.headers.get('www-authenticate')]).toEqual([401, { detail: 'Failed to authenticate' }, 'Bearer']);
    const basic = await s.request(method, path, { token: null, headers: { authorization: 'Basic cm9vdDpzZWNyZXQ=' } });
    expect(basic.status).toBe(401);
    const others = SCOPES.filter((x) => x !== scope);
    const wrong = await s.request(method, path, { token: await s.token(others) });
    expect([wrong.status, wrong.body]).toEqual([403, { detail: 'Not Authorized for this action' }]);
    const right = await s.request(method, path, { token: await s.token([scope]) });
    expect([401, 403]).not.toContain(right.status);
  });

  it('checks auth before the body: a bad body without auth is 401, with a wrong scope 403', async () => {
    const bad = { rawBody: '[{"broken', headers: { 'content-type': 'application/json' } };
    expect((await s.request('PATCH', '/api/v1/connection', { ...bad, token: null })).status).toBe(401);
    expect((await s.request('PATCH', '/api/v1/connection', { ...bad, token: await s.token(['policy:read']) })).status).toBe(403);
    expect((await s.request('PATCH', '/api/v1/connection', { ...bad, token: await s.token(['connection:create_or_update']) })).status).toBe(422);
  });
});

describe('API tokens', () => {
  it('round-trips its claims and rejects tampering, other keys and expiry', async () => {
    const token = await issueApiToken(s.keys, ['webhook:read'], 60_000, 'ci');
    expect(token.split('.')).toHaveLength(5);
    expect(await verifyApiToken(s.keys, token)).toMatchObject({ scopes: ['webhook:read'], client_id: 'ci' });
    const parts = token.split('.');
    const flipped = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`;
    expect(await verifyApiToken(s.keys, [...parts.slice(0, 3), flipped, parts[4]].join('.'))).toBeNull();
    expect(await verifyApiToken(deriveKeys(Buffer.alloc(32, 9)), token)).toBeNull();
    expect(await verifyApiToken(s.keys, 'not-a-token')).toBeNull();

    const iat = Math.floor(Date.now() / 1000) - 120;
    const expired = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ scopes: ['webhook:read'], iat, exp: iat + 60, client_id: 'x' })))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(s.keys.apiToken);
    expect(await verifyApiToken(s.keys, expired)).toBeNull();
    const res = await s.request('GET', '/api/v1/policy', { token: expired });
    expect([res.status, res.body]).toEqual([403, { detail: 'Not Authorized for this action' }]);
  });

  it('does not take a reply-to style token, or an API token of another state, as an API token', async () => {
    const otherState = await issueApiToken(deriveKeys(Buffer.alloc(32, 3)), SCOPES, 60_000);
    expect((await s.request('GET', '/api/v1/policy', { token: otherState })).status).toBe(403);
    const underReplyKey = await new CompactEncrypt(
      new TextEncoder().encode(JSON.stringify({ scopes: [...SCOPES], iat: 0, exp: 2 ** 31, client_id: 'x' })),
    )
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(s.keys.replyToken);
    expect((await s.request('GET', '/api/v1/policy', { token: underReplyKey })).status).toBe(403);
    expect((await s.request('GET', '/api/v1/policy', { token: '' })).status).toBe(403);
  });
});

describe('POST /api/v1/oauth/token', () => {
  const tokenRequest = (body: string, contentType: string) =>
    s.request('POST', '/api/v1/oauth/token', { token: null, rawBody: body, headers: { 'content-type': contentType } });

  it('gives the root client a token with every scope, from a form or JSON body', async () => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: ROOT_CLIENT.id, client_secret: ROOT_CLIENT.secret });
    for (const res of [
      await tokenRequest(form.toString(), 'application/x-www-form-urlencoded'),
      await tokenRequest(JSON.stringify({ client_id: ROOT_CLIENT.id, client_secret: ROOT_CLIENT.secret }), 'application/json'),
    ]) {
      expect(res.status).toBe(200);
      const body = res.body as { access_token: string; token_type: string };
      expect(Object.keys(body).sort()).toEqual(['access_token', 'token_type']);
      expect(body.token_type).toBe('Bearer');
      expect((await verifyApiToken(s.keys, body.access_token))?.scopes).toEqual([...SCOPES]);
      expect((await s.request('GET', '/api/v1/connection', { token: body.access_token })).status).toBe(200);
    }
  });

  it('answers 401 for a wrong secret or client id, and 422 for missing fields', async () => {
    for (const creds of [
      { client_id: ROOT_CLIENT.id, client_secret: 'wrong' },
      { client_id: 'someone', client_secret: ROOT_CLIENT.secret },
      { client_id: '', client_secret: '' },
    ]) {
      const res = await tokenRequest(JSON.stringify(creds), 'application/json');
      expect([res.status, res.body]).toEqual([401, { detail: 'Failed to authenticate' }]);
    }
    const missing = await tokenRequest(JSON.stringify({ client_id: ROOT_CLIENT.id }), 'application/json');
    expect(missing.status).toBe(422);
    expect(missing.body).toEqual({ detail: [{ loc: ['body', 'client_secret'], msg: 'field required', type: 'value_error.missing' }] });
  });

  it('answers 401 to everyone when no root client is configured', async () => {
    const app = await buildServer({ db: s.db, keys: s.keys });
    try {
      const res = await app.inject({ method: 'POST', url: '/api/v1/oauth/token', payload: { client_id: '', client_secret: '' } });
      expect([res.statusCode, res.json()]).toEqual([401, { detail: 'Failed to authenticate' }]);
    } finally {
      await app.close();
    }
  });
});

describe('unauthenticated routes', () => {
  it('GET /api/v1/health needs no token', async () => {
    const res = await s.request('GET', '/api/v1/health', { token: null });
    expect([res.status, res.body]).toEqual([200, { status: 'healthy', webserver: 'healthy', version: expect.stringMatching(/^\d+\.\d+\.\d+/) }]);
  });

  it('unknown routes are 404 {"detail":"Not Found"}, with or without a token', async () => {
    for (const token of [null, undefined]) {
      const res = await s.request('GET', '/api/v1/nothing/here', { token });
      expect([res.status, res.body]).toEqual([404, { detail: 'Not Found' }]);
    }
  });
});
