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
    ['DELETE', `${prefix}/policy/p1`, 'policy:delete'],
    ...(['pre_execution', 'post_execution'] as const).flatMap((phase): [string, string, Scope][] => [
      ['GET', `${prefix}/policy/p1/webhook/${phase}`, 'webhook:read'],
      ['PUT', `${prefix}/policy/p1/webhook/${phase}`, 'webhook:create_or_update'],
      ['GET', `${prefix}/policy/p1/webhook/${phase}/w1`, 'webhook:read'],
      ['PATCH', `${prefix}/policy/p1/webhook/${phase}/w1`, 'webhook:create_or_update'],
      ['DELETE', `${prefix}/policy/p1/webhook/${phase}/w1`, 'webhook:delete'],
    ]),
  ]),
  ['POST', '/api/v1/privacy-request', 'privacy-request:create'],
  ['POST', '/api/v1/privacy-request/authenticated', 'privacy-request:create'],
  ['POST', '/api/v1/privacy-request/search', 'privacy-request:read'],
  ['GET', '/api/v1/privacy-request', 'privacy-request:read'],
  ['GET', '/api/v1/privacy-request/pri_1', 'privacy-request:read'],
  ['POST', '/api/v1/privacy-request/pri_1/retry', 'privacy-request:resume'],
  ['POST', '/api/v1/oauth/client', 'client:create'],
];

describe('route authorization', () => {
  it('covers every route of the server', () => {
    const registered = s.app.printRoutes({ commonPrefix: false });
    // A route added without an entry above would go untested: count the methods fastify knows.
    const methods = registered.match(/\b(GET|PUT|PATCH|POST|DELETE)\b/g)?.length ?? 0;
    // health and health/database ×2 (root, prefix), oauth/token, resume ×2 (reply-to token),
    // openapi.json, metrics, and the 6 pages and assets of the API browser under /docs
    const unauthenticated = 15;
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
    const otherState = await issueApiToken(deriveKeys(Buffer.alloc(32, 3)), SCOPES, 60_000, 'other');
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
  const url = () => `${s.base}/api/v1/oauth/token`;
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const multipart = (fields: Record<string, string>) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    return form;
  };
  const post = async (init: { body?: string | FormData | URLSearchParams; headers?: Record<string, string> }) => {
    const res = await fetch(url(), { method: 'POST', ...init });
    const text = await res.text();
    s.seenBodies.push(text);
    return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  const root = { client_id: ROOT_CLIENT.id, client_secret: ROOT_CLIENT.secret };

  /** A 200 whose token works and carries every scope, with Fides' expiry fields. */
  const expectToken = async (res: Awaited<ReturnType<typeof post>>) => {
    expect([res.status, res.text]).toEqual([200, expect.any(String)]);
    const body = res.body as { access_token: string; token_type: string; expires_in: number; expires_at: string };
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_at', 'expires_in', 'token_type']);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(3600);
    // Python's datetime.now().isoformat(): local time, microseconds, no offset.
    expect(body.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
    const [date, time] = body.expires_at.split('T') as [string, string];
    const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
    const [h, mi, sec] = time.split(':').map(Number) as [number, number, number];
    const expiresAt = new Date(y, mo - 1, d, h, mi, Math.floor(sec), Math.round((sec % 1) * 1000)).getTime();
    expect(Math.abs(expiresAt - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    expect((await verifyApiToken(s.keys, body.access_token))?.scopes).toEqual([...SCOPES]);
    expect((await s.request('GET', '/api/v1/connection', { token: body.access_token })).status).toBe(200);
  };

  it('takes the credentials from a urlencoded form, with or without grant_type', async () => {
    await expectToken(await post({ body: new URLSearchParams({ grant_type: 'client_credentials', ...root }) }));
    await expectToken(await post({ body: new URLSearchParams(root) }));
    // An empty form field counts as absent, as FastAPI reads forms.
    await expectToken(await post({ body: new URLSearchParams({ ...root, grant_type: '' }) }));
  });

  it('takes them from a multipart form (Postman form-data, curl -F)', async () => {
    await expectToken(await post({ body: multipart(root) }));
    await expectToken(await post({ body: multipart({ grant_type: 'client_credentials', scope: 'ignored', ...root }) }));
  });

  it('takes them from a JSON body, labelled or not (Python requests with data=json.dumps(...))', async () => {
    await expectToken(await post({ body: JSON.stringify(root), headers: { 'content-type': 'application/json' } }));
    // fetch labels a string body text/plain; bytes go out with no Content-Type, as from requests.
    const unlabelled = await fetch(url(), { method: 'POST', body: new TextEncoder().encode(JSON.stringify(root)) });
    await expectToken({ status: unlabelled.status, headers: unlabelled.headers, text: await unlabelled.clone().text(), body: (await unlabelled.json()) as Record<string, unknown> });
  });

  it('takes them from HTTP Basic, and the form wins when it has both fields', async () => {
    await expectToken(await post({ headers: { authorization: basic(ROOT_CLIENT.id, ROOT_CLIENT.secret) } }));
    await expectToken(await post({ body: new URLSearchParams({ grant_type: 'client_credentials' }), headers: { authorization: basic(ROOT_CLIENT.id, ROOT_CLIENT.secret) } }));
    // The form's right credentials win over a wrong Basic pair…
    await expectToken(await post({ body: multipart(root), headers: { authorization: basic(ROOT_CLIENT.id, 'wrong') } }));
    // …and its wrong ones over a right Basic pair.
    const formWins = await post({ body: new URLSearchParams({ ...root, client_secret: 'wrong' }), headers: { authorization: basic(ROOT_CLIENT.id, ROOT_CLIENT.secret) } });
    expect([formWins.status, formWins.body]).toEqual([401, { detail: 'Authentication Failure' }]);
    // A form with only one of the two fields leaves the credentials to Basic.
    await expectToken(await post({ body: new URLSearchParams({ client_id: 'someone-else' }), headers: { authorization: basic(ROOT_CLIENT.id, ROOT_CLIENT.secret) } }));
    const undecodable = await post({ headers: { authorization: 'Basic not-base64!' } });
    expect([undecodable.status, undecodable.body]).toEqual([401, { detail: 'Invalid authentication credentials' }]);
  });

  it('answers 422 for a grant_type other than client_credentials', async () => {
    for (const body of [new URLSearchParams({ ...root, grant_type: 'password' }), multipart({ ...root, grant_type: 'authorization_code' })]) {
      const res = await post({ body });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({ detail: [{ loc: ['body', 'grant_type'], msg: expect.stringContaining('client_credentials'), type: 'value_error.str.regex' }] });
    }
  });

  it('answers 401 Authentication Failure for a wrong secret or client id, or no credentials at all', async () => {
    const wrong = [
      { client_id: ROOT_CLIENT.id, client_secret: 'wrong' },
      { client_id: 'someone', client_secret: ROOT_CLIENT.secret },
    ];
    const attempts = [
      ...wrong.map((creds) => post({ body: new URLSearchParams(creds) })),
      ...wrong.map((creds) => post({ body: multipart(creds) })),
      ...wrong.map((creds) => post({ body: JSON.stringify(creds), headers: { 'content-type': 'application/json' } })),
      ...wrong.map((creds) => post({ headers: { authorization: basic(creds.client_id, creds.client_secret) } })),
      post({ body: JSON.stringify({ client_id: '', client_secret: '' }), headers: { 'content-type': 'application/json' } }),
      post({ body: new URLSearchParams({ client_id: ROOT_CLIENT.id }) }),
      post({}),
    ];
    for (const res of await Promise.all(attempts)) expect([res.status, res.body]).toEqual([401, { detail: 'Authentication Failure' }]);
    for (const body of s.seenBodies) expect(body).not.toContain(ROOT_CLIENT.secret);
  });

  it('answers 401 to everyone when no root client is configured', async () => {
    const app = await buildServer({ db: s.db, keys: s.keys });
    try {
      const res = await app.inject({ method: 'POST', url: '/api/v1/oauth/token', payload: { client_id: '', client_secret: '' } });
      expect([res.statusCode, res.json()]).toEqual([401, { detail: 'Authentication Failure' }]);
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
