/**
 * GET /openapi.json is a valid OpenAPI 3 document of every route the server has registered —
 * a route added without a schema (a summary, its parameters, its body) fails here — and the
 * scope each operation declares is the one the server enforces. GET /docs is the API browser.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import { SCOPES, type Scope } from '../../src/server/auth.js';
import { startServer, type TestServer } from './api.js';

interface Operation {
  summary?: string;
  security?: Record<string, string[]>[];
  'x-hookctl-auth'?: string;
  parameters?: { in: string; name: string; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

/**
 * Every method and URL the server answers, from fastify's own route tree (printRoutes), so
 * that the list follows the code: a route added anywhere is in it.
 */
function registeredRoutes(app: FastifyInstance): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const path: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    path.length = m[1]!.length / 4;
    path.push(m[2]!);
    for (const method of m[3]?.split(', ') ?? []) routes.push({ method, url: path.join('') });
  }
  return routes;
}

/** `/policy/:policy_key` → `/policy/{policy_key}`. */
const openapiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');
const pathParams = (url: string) => [...url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);

/** Operations that take no body, or whose body is read by the engine after the reply-to token is checked. */
const BODILESS = new Set(['post /api/v1/privacy-request/{privacy_request_id}/retry', 'post /api/v1/privacy-request/{privacy_request_id}/resume', 'post /privacy-request/{privacy_request_id}/resume']);

let env: Awaited<ReturnType<typeof freshBackends>>;
let s: TestServer;
let doc: Document;
beforeAll(async () => {
  env = await freshBackends('server_openapi');
  s = await startServer(env.backends.find((b) => b.name === 'sqlite')!);
  const res = await fetch(`${s.base}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Document;
});
afterAll(async () => {
  await s.close();
  await env.drop();
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3 document whose references all resolve', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toMatch(/^3\./);
    // The API's request schemas and the manifest definitions they use are components.
    for (const name of ['connection-patch', 'webhook-put', 'privacy-request-create', 'common-fidesKey', 'manifest-fidesKey']) expect(doc.components.schemas).toHaveProperty(name);
    for (const name of ['policy-patch', 'oauth-client-create']) expect(doc.components.schemas).toHaveProperty(name);
  });

  it('documents every registered route with its schemas and the auth it requires', () => {
    const routes = registeredRoutes(s.app).filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/docs'));
    // The tree was read: the API's routes are all there (a parser that read nothing would pass below).
    expect(routes.length).toBeGreaterThan(40);
    expect(routes).toContainEqual({ method: 'PUT', url: '/api/v1/dsr/policy/:policy_key/webhook/pre_execution' });
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method.toLowerCase()} ${openapiPath(r.url)}`).sort());

    for (const { method, url } of routes) {
      const id = `${method.toLowerCase()} ${openapiPath(url)}`;
      const op = doc.paths[openapiPath(url)]![method.toLowerCase()]!;
      expect(op.summary, `${id}: summary`).toMatch(/\w/);
      expect(op['x-hookctl-auth'], `${id}: auth`).toBeDefined();
      // Path parameters come from the route's schema (a key or id pattern), not guessed from the URL.
      for (const name of pathParams(url)) {
        const param = op.parameters?.find((p) => p.in === 'path' && p.name === name);
        expect(param?.schema, `${id}: parameter ${name}`).toEqual({ $ref: '#/components/schemas/common-fidesKey' });
      }
      if (['POST', 'PUT', 'PATCH'].includes(method) && !BODILESS.has(id)) {
        expect(op.requestBody?.content['application/json']?.schema, `${id}: body`).toMatchObject({ $ref: expect.stringMatching(/^#\/components\/schemas\//) });
      }
    }
  });

  it('documents what a Fides 2.x client uses: policy DELETE, OAuth clients, the DSR policy fields, the query parameters', () => {
    expect(doc.paths['/api/v1/dsr/policy/{policy_key}']?.delete?.['x-hookctl-auth']).toBe('policy:delete');
    expect(doc.paths['/api/v1/oauth/client']?.post?.['x-hookctl-auth']).toBe('client:create');
    const policyItem = (doc.components.schemas['policy-patch'] as { items: { properties: Record<string, unknown> } }).items.properties;
    expect(Object.keys(policyItem)).toEqual(expect.arrayContaining(['drp_action', 'execution_timeframe']));
    const query = (p: string, m: string) => (doc.paths[p]?.[m]?.parameters ?? []).filter((q) => q.in === 'query').map((q) => q.name);
    expect(query('/api/v1/connection', 'get')).toEqual(expect.arrayContaining(['page', 'size', 'connection_type']));
    expect(query('/api/v1/connection/{connection_key}/secret', 'put')).toEqual(['verify']);
  });

  it('names for each operation the scope that the server enforces', async () => {
    const operations = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path: p, op })));
    const concrete = (p: string) => p.replace(/\{[^}]+\}/g, 'some_key');
    const status = async (method: string, path: string, token: string | null) => {
      const res = await fetch(`${s.base}${concrete(path)}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      return res.status;
    };
    for (const { method, path, op } of operations) {
      const auth = op['x-hookctl-auth']!;
      const id = `${method} ${path}`;
      if (auth === 'none') {
        expect(op.security, id).toEqual([]);
        if (method === 'GET') expect(await status(method, path, null), id).toBe(200);
        continue;
      }
      expect(await status(method, path, null), `${id} without a token`).toBe(401);
      if (auth === 'reply-token') {
        expect(op.security, id).toEqual([{ replyToken: [] }]);
        expect(await status(method, path, 'not-a-reply-token'), id).toBe(403);
        continue;
      }
      const scope = auth as Scope;
      expect(SCOPES, id).toContain(scope);
      expect(op.security, id).toEqual([{ bearer: [scope] }]);
      const others = await s.token(SCOPES.filter((x) => x !== scope));
      expect(await status(method, path, others), `${id} without ${scope}`).toBe(403);
      const only = await s.token([scope]);
      expect([401, 403], `${id} with ${scope} alone`).not.toContain(await status(method, path, only));
    }
  });
});

describe('GET /docs', () => {
  it('answers the API browser, without a token, on the same document', async () => {
    const page = await fetch(`${s.base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/swagger-ui/i);
    const spec = await fetch(`${s.base}/docs/json`);
    expect(await spec.json()).toEqual(doc);
  });
});
