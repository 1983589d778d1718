/**
 * The same HTTP-level checks against `hookctl serve` and the Fides 2.8x double: what a client
 * written for Fides 2.x relies on must hold on both. Plain fetch over real HTTP, through the
 * recording proxy of each target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllServes } from '../serve/processes.js';
import { REMOTE_APPLY_SCOPES, TARGET_STARTERS, type FidesTestTarget } from './targets.js';

const AUTHORIZATION = 'Bearer conformance-authorization-5b93e1';
const MASK = '**********';

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  size: number;
  pages?: number;
}
interface ConnectionView {
  key: string;
  name: string;
  connection_type: string;
  secrets?: Record<string, unknown> | null;
}
interface PolicyView {
  key: string;
  name: string;
  drp_action: string | null;
  execution_timeframe: number | null;
}

/** An item that each target refuses inside a 200 while it writes the others (each target has its own reason). */
const PER_ITEM_FAILURE: Record<FidesTestTarget['name'], (existingName: string) => Record<string, unknown>> = {
  // hookctl manages https connections only.
  serve: () => ({ key: 'warehouse', name: 'Warehouse', connection_type: 'postgres', access: 'read' }),
  // Fides: an item without a key whose name-derived key exists already.
  double: (existingName) => ({ name: existingName, connection_type: 'https', access: 'read' }),
};

describe.each(TARGET_STARTERS)('a Fides 2.x client against $name', ({ name, start }) => {
  let target: FidesTestTarget;
  let token: string;

  async function call<T>(method: string, path: string, body?: unknown, bearer: string | null = token): Promise<{ status: number; body: T; headers: Headers; text: string }> {
    const res = await fetch(`${target.url}${path}`, {
      method,
      headers: { ...(bearer !== null && { authorization: `Bearer ${bearer}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    // No answer ever carries a secret value.
    expect(text).not.toContain(AUTHORIZATION);
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers, text };
  }

  async function getToken(t: FidesTestTarget): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${t.url}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: t.clientId, client_secret: t.clientSecret, grant_type: 'client_credentials' }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    target = await start({ scopes: [...REMOTE_APPLY_SCOPES, 'privacy-request:create'] });
    const res = await getToken(target);
    expect(res.status).toBe(200);
    token = res.body.access_token as string;
  });
  afterAll(async () => {
    await target?.close();
    await killAllServes();
  });

  it('issues a token for form-encoded client credentials, and refuses wrong ones with 401', async () => {
    const res = await getToken(target);
    expect(res.body).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number), expires_at: expect.any(String) });
    const wrong = await fetch(`${target.url}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: target.clientId, client_secret: 'not-the-secret' }),
    });
    expect([wrong.status, await wrong.json()]).toEqual([401, { detail: 'Authentication Failure' }]);
  });

  it('answers 401 with a Bearer challenge without a token, and 403 for a token it cannot read', async () => {
    const anonymous = await call('GET', '/api/v1/connection', undefined, null);
    expect([anonymous.status, anonymous.body, anonymous.headers.get('www-authenticate')]).toEqual([401, { detail: 'Failed to authenticate' }, 'Bearer']);
    const garbage = await call<{ detail: string }>('GET', '/api/v1/connection', undefined, 'not-a-token');
    expect(garbage.status).toBe(403);
    expect(garbage.body.detail).toMatch(/^Not Authorized for this action/);
  });

  it('answers 403 to a client whose token lacks the scope', async () => {
    const readOnly = await start({ scopes: ['connection:read'] });
    try {
      const t = (await getToken(readOnly)).body.access_token as string;
      const res = await fetch(`${readOnly.url}/api/v1/connection`, { method: 'PATCH', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: '[]' });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/^Not Authorized for this action/);
      expect((await fetch(`${readOnly.url}/api/v1/connection`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    } finally {
      await readOnly.close();
    }
  });

  it('serves /health at the root with a version, without auth', async () => {
    const res = await call<{ version: unknown; webserver: string }>('GET', '/health', undefined, null);
    expect(res.status).toBe(200);
    expect(res.body.webserver).toBe('healthy');
    expect(res.body.version).toEqual(expect.stringMatching(/^\d+\.\d+/));
  });

  it('creates https connections, takes secrets with verify=false, lists them by type with the secrets masked', async () => {
    const items = ['alpha', 'bravo', 'charlie'].map((k) => ({ key: `conf_${k}`, name: `Conf ${k}`, connection_type: 'https', access: 'read' }));
    const patched = await call<{ succeeded: ConnectionView[]; failed: unknown[] }>('PATCH', '/api/v1/connection', items);
    expect(patched.status).toBe(200);
    expect([patched.body.succeeded.map((c) => c.key), patched.body.failed]).toEqual([items.map((i) => i.key), []]);
    const secret = await call<{ msg: string; test_status: unknown }>('PUT', '/api/v1/connection/conf_alpha/secret?verify=false', { url: 'https://hooks.example.com/alpha', authorization: AUTHORIZATION });
    expect([secret.status, secret.body]).toEqual([200, { msg: 'Secrets updated for ConnectionConfig with key: conf_alpha.', test_status: null, failure_reason: null }]);

    const list = await call<Page<ConnectionView>>('GET', '/api/v1/connection?connection_type=https&size=100');
    expect(list.status).toBe(200);
    expect(list.body.items.every((c) => c.connection_type === 'https')).toBe(true);
    expect(list.body.items.map((c) => c.key)).toEqual(expect.arrayContaining(items.map((i) => i.key)));
    const alpha = list.body.items.find((c) => c.key === 'conf_alpha')!;
    // Fides masks the authorization always; a server may also leave secrets out of responses.
    if (alpha.secrets) expect(alpha.secrets.authorization).toBe(MASK);
    const none = await call<Page<ConnectionView>>('GET', '/api/v1/connection?connection_type=no_such_type');
    expect([none.body.items, none.body.total]).toEqual([[], 0]);
    const missing = await call('GET', '/api/v1/connection/conf_nope');
    expect([missing.status, missing.body]).toEqual([404, { detail: "No connection configuration found with key 'conf_nope'." }]);
  });

  it('paginates with page and size, and pages (when given) is ceil(total / size)', async () => {
    const first = await call<Page<ConnectionView>>('GET', '/api/v1/connection?connection_type=https&size=2&page=1');
    const second = await call<Page<ConnectionView>>('GET', '/api/v1/connection?connection_type=https&size=2&page=2');
    expect(first.body.total).toBeGreaterThanOrEqual(3);
    expect([first.body.page, first.body.size, first.body.items.length]).toEqual([1, 2, 2]);
    expect([second.body.page, second.body.items.length]).toEqual([2, Math.min(2, first.body.total - 2)]);
    const keys = [...first.body.items, ...second.body.items].map((c) => c.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const page of [first.body, second.body]) if (page.pages !== undefined) expect(page.pages).toBe(Math.ceil(page.total / page.size));
    expect((await call('GET', '/api/v1/connection?size=101')).status).toBe(422);
  });

  it('reports a refused PATCH /connection item under failed in a 200, and writes the others', async () => {
    const good = { key: 'conf_delta', name: 'Conf delta', connection_type: 'https', access: 'write' };
    const res = await call<{ succeeded: ConnectionView[]; failed: { message: string; data: Record<string, unknown> }[] }>('PATCH', '/api/v1/connection', [PER_ITEM_FAILURE[name]('Conf bravo'), good]);
    expect(res.status).toBe(200);
    expect(res.body.succeeded.map((c) => c.key)).toEqual([good.key]);
    expect(res.body.failed).toEqual([{ message: expect.any(String), data: expect.objectContaining({ connection_type: expect.any(String) }) }]);
    expect((await call('GET', `/api/v1/connection/${good.key}`)).status).toBe(200);
  });

  it("keeps a policy's drp_action and execution_timeframe, and clears them when a PATCH omits them", async () => {
    const created = await call<{ succeeded: PolicyView[]; failed: unknown[] }>('PATCH', '/api/v1/dsr/policy', [{ key: 'conf_policy', name: 'Conf policy', drp_action: 'sale:opt_out', execution_timeframe: 30 }]);
    expect(created.body.succeeded).toEqual([expect.objectContaining({ key: 'conf_policy', name: 'Conf policy', drp_action: 'sale:opt_out', execution_timeframe: 30 })]);
    expect((await call<PolicyView>('GET', '/api/v1/dsr/policy/conf_policy')).body).toMatchObject({ drp_action: 'sale:opt_out', execution_timeframe: 30 });
    // Sending the live values back keeps them (what a client that manages only the name must do).
    await call('PATCH', '/api/v1/dsr/policy', [{ key: 'conf_policy', name: 'Renamed', drp_action: 'sale:opt_out', execution_timeframe: 30 }]);
    expect((await call<PolicyView>('GET', '/api/v1/dsr/policy/conf_policy')).body).toMatchObject({ name: 'Renamed', drp_action: 'sale:opt_out', execution_timeframe: 30 });
    // A second policy cannot take the same drp_action.
    const taken = await call<{ succeeded: PolicyView[]; failed: unknown[] }>('PATCH', '/api/v1/dsr/policy', [{ key: 'conf_other', name: 'Conf other', drp_action: 'sale:opt_out' }]);
    expect([taken.status, taken.body.succeeded, taken.body.failed.length]).toEqual([200, [], 1]);
    // Omitted: cleared, as Fides does.
    const cleared = await call<{ succeeded: PolicyView[] }>('PATCH', '/api/v1/dsr/policy', [{ key: 'conf_policy', name: 'Renamed' }]);
    expect(cleared.body.succeeded[0]).toMatchObject({ drp_action: null, execution_timeframe: null });
    const list = await call<Page<PolicyView>>('GET', '/api/v1/dsr/policy?size=100');
    expect(list.body.items.find((p) => p.key === 'conf_policy')).toMatchObject({ name: 'Renamed', drp_action: null, execution_timeframe: null });
  });

  it('deletes a policy (204), answers 404 when it is absent and 409 once a privacy request used it', async () => {
    await call('PATCH', '/api/v1/dsr/policy', [{ key: 'conf_unused', name: 'Conf unused' }, { key: 'conf_used', name: 'Conf used' }]);
    const request = await call<{ succeeded: unknown[] }>('POST', '/api/v1/privacy-request/authenticated', [{ policy_key: 'conf_used', identity: { email: 'someone@example.com' } }]);
    expect([request.status, request.body.succeeded.length]).toEqual([200, 1]);
    const refused = await call('DELETE', '/api/v1/dsr/policy/conf_used');
    expect([refused.status, refused.body]).toEqual([409, { detail: 'Cannot delete policy conf_used: it is referenced by one or more privacy requests.' }]);
    expect((await call('GET', '/api/v1/dsr/policy/conf_used')).status).toBe(200);
    const deleted = await call('DELETE', '/api/v1/dsr/policy/conf_unused');
    expect([deleted.status, deleted.text]).toEqual([204, '']);
    const gone = await call('DELETE', '/api/v1/dsr/policy/conf_unused');
    expect([gone.status, gone.body]).toEqual([404, { detail: 'No Policy found for key conf_unused.' }]);
  });

  it('replaces a webhook list with PUT (order = position), reads it back sorted, and empties it with []', async () => {
    await call('PATCH', '/api/v1/dsr/policy', [{ key: 'conf_hooks', name: 'Conf hooks' }]);
    // hookctl checks a webhook's connection when it is attached: it must have its secrets by then.
    expect((await call('PUT', '/api/v1/connection/conf_bravo/secret', { url: 'https://hooks.example.com/bravo', authorization: AUTHORIZATION })).status).toBe(200);
    const path = '/api/v1/dsr/policy/conf_hooks/webhook/pre_execution';
    const hooks = [
      { key: 'conf_hook_b', name: 'Conf hook B', connection_config_key: 'conf_alpha', direction: 'two_way' },
      { key: 'conf_hook_a', name: 'Conf hook A', connection_config_key: 'conf_bravo', direction: 'one_way' },
    ];
    const put = await call<{ key: string; order: number }[]>('PUT', path, hooks);
    expect(put.status).toBe(200);
    expect(put.body.map((w) => [w.key, w.order])).toEqual([['conf_hook_b', 0], ['conf_hook_a', 1]]);
    const reordered = await call<{ key: string; order: number }[]>('PUT', path, [hooks[1], hooks[0]]);
    expect(reordered.body.map((w) => [w.key, w.order])).toEqual([['conf_hook_a', 0], ['conf_hook_b', 1]]);
    const list = await call<Page<{ key: string; order: number; connection_config: ConnectionView }>>('GET', path);
    expect(list.body.items.map((w) => [w.key, w.order, w.connection_config.key])).toEqual([['conf_hook_a', 0, 'conf_bravo'], ['conf_hook_b', 1, 'conf_alpha']]);
    const unknown = await call('PUT', path, [{ key: 'conf_hook_c', name: 'Conf hook C', connection_config_key: 'conf_nope', direction: 'one_way' }]);
    expect([unknown.status, unknown.body]).toEqual([404, { detail: "No connection configuration found with key 'conf_nope'." }]);
    expect((await call<Page<unknown>>('GET', path)).body.total).toBe(2);
    expect((await call('PUT', path, [])).body).toEqual([]);
    expect((await call<Page<unknown>>('GET', path)).body.total).toBe(0);
    // A policy the server does not know is 404 for its lists too.
    expect((await call('GET', '/api/v1/dsr/policy/conf_nope/webhook/post_execution')).body).toEqual({ detail: 'No Policy found for key conf_nope.' });
  });

  it('records every call it forwards and fails the calls it is told to, so failure tests run alike', async () => {
    target.resetCalls();
    target.fail({ method: 'GET', path: '/api/v1/dsr/policy', status: 503, body: '<html>busy</html>', contentType: 'text/html' });
    const failed = await fetch(`${target.url}/api/v1/dsr/policy`, { headers: { authorization: `Bearer ${token}` } });
    expect([failed.status, failed.headers.get('content-type'), await failed.text()]).toEqual([503, 'text/html', '<html>busy</html>']);
    expect((await call('GET', '/api/v1/dsr/policy')).status).toBe(200);
    target.fail({ path: /^\/api\/v1\/connection\?/, reset: true });
    await expect(fetch(`${target.url}/api/v1/connection?page=1`, { headers: { authorization: `Bearer ${token}` } })).rejects.toThrow();
    target.fail({ path: '/health', delayMs: 300 });
    const started = Date.now();
    expect((await call('GET', '/health', undefined, null)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(target.calls()).toEqual([
      { method: 'GET', path: '/api/v1/dsr/policy', status: 503 },
      { method: 'GET', path: '/api/v1/dsr/policy', status: 200 },
      { method: 'GET', path: '/api/v1/connection', status: 0 },
      { method: 'GET', path: '/health', status: 200 },
    ]);
  });
});
