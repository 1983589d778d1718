/**
 * The upstream behaviours the double reproduces and serve deliberately does not (or cannot
 * show): Fides' own 403 texts, token expiry, a postgres connection with a masked password,
 * names checked before removals in a webhook PUT, and the version differences (fidesops paths,
 * no policy DELETE before 2.80).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MASK } from './double.js';
import { startFidesDouble, type FidesTestTarget } from './targets.js';

const opened: FidesTestTarget[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

async function open(opts: Parameters<typeof startFidesDouble>[0] = {}) {
  const target = await startFidesDouble(opts);
  opened.push(target);
  const res = await fetch(`${target.url}/api/v1/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: target.clientId, client_secret: target.clientSecret }),
  });
  const token = ((await res.json()) as { access_token: string }).access_token;
  const call = async <T = unknown>(method: string, path: string, body?: unknown) => {
    const r = await fetch(`${target.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const isJson = r.headers.get('content-type')?.includes('json');
    return { status: r.status, body: (isJson ? JSON.parse(text) : text || undefined) as T };
  };
  return { target, token, call };
}

describe('the Fides 2.8x double', () => {
  it('reads a JSON token body as an empty form (401), and names the missing scope in its 403', async () => {
    const { target, call } = await open({ scopes: ['connection:read'] });
    const json = await fetch(`${target.url}/api/v1/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: target.clientId, client_secret: target.clientSecret }) });
    expect(json.status).toBe(401);
    expect(await call('PATCH', '/api/v1/connection', [])).toEqual({ status: 403, body: { detail: 'Not Authorized for this action. Required scope(s): [connection:create_or_update]' } });
  });

  it('refuses an expired token with 403, not 401', async () => {
    const { call } = await open({ tokenTtlSeconds: 1 });
    expect((await call('GET', '/api/v1/connection')).status).toBe(200);
    await sleep(1100);
    expect(await call('GET', '/api/v1/connection')).toEqual({ status: 403, body: { detail: 'Not Authorized for this action' } });
  });

  it('has a postgres connection (password masked) that the https filter leaves out, and seeded policies with rules', async () => {
    const { call } = await open();
    const all = await call<{ items: { key: string; connection_type: string; secrets: Record<string, unknown> }[]; pages: number }>('GET', '/api/v1/connection');
    const pg = all.body.items.find((c) => c.connection_type === 'postgres')!;
    expect(pg.secrets).toMatchObject({ host: 'db', password: MASK });
    expect(all.body.pages).toBe(1);
    const https = await call<{ items: unknown[]; total: number }>('GET', '/api/v1/connection?connection_type=https');
    expect(https.body.total).toBe(0);
    const policies = await call<{ items: { key: string; drp_action: string | null; rules: unknown[] }[] }>('GET', '/api/v1/dsr/policy');
    expect(policies.body.items.find((p) => p.key === 'default_access_policy')).toMatchObject({ drp_action: 'access', rules: [expect.objectContaining({ action_type: 'access' })] });
  });

  it('masks an https authorization and shows its url; PATCH cannot clear a description', async () => {
    const { call } = await open();
    await call('PATCH', '/api/v1/connection', [{ key: 'hooks', name: 'Hooks', description: 'kept', connection_type: 'https', access: 'read', misspelt_field: 1 }]);
    await call('PUT', '/api/v1/connection/hooks/secret', { url: 'https://hooks.example.com', authorization: 'Bearer double-secret' });
    await call('PATCH', '/api/v1/connection', [{ key: 'hooks', name: 'Hooks', description: '', connection_type: 'https', access: 'read' }]);
    const c = await call<Record<string, unknown>>('GET', '/api/v1/connection/hooks');
    expect(c.body).toMatchObject({ description: 'kept', secrets: { url: 'https://hooks.example.com', authorization: MASK, headers: MASK } });
    expect(c.body).not.toHaveProperty('misspelt_field');
    const empty = await call('PUT', '/api/v1/connection/hooks/secret', { url: 'https://hooks.example.com', authorization: '' });
    expect(empty.status).toBe(422);
  });

  it('stops PATCH /connection with 422 at an item without access, keeping the items before it', async () => {
    const { call } = await open();
    const res = await call('PATCH', '/api/v1/connection', [{ key: 'first', name: 'First', connection_type: 'https', access: 'read' }, { key: 'second', name: 'Second', connection_type: 'https' }]);
    expect(res.status).toBe(422);
    expect((await call('GET', '/api/v1/connection/first')).status).toBe(200);
    expect((await call('GET', '/api/v1/connection/second')).status).toBe(404);
  });

  it('checks webhook names before it removes anything: a key change under the same name is 400, two PUTs work', async () => {
    const { call } = await open();
    await call('PATCH', '/api/v1/connection', [{ key: 'hooks', name: 'Hooks', connection_type: 'https', access: 'read' }]);
    await call('PATCH', '/api/v1/dsr/policy', [{ key: 'p', name: 'P' }]);
    const path = '/api/v1/dsr/policy/p/webhook/pre_execution';
    expect((await call('PUT', path, [{ key: 'old_key', name: 'Notify', connection_config_key: 'hooks', direction: 'one_way' }])).status).toBe(200);
    const renamed = await call('PUT', path, [{ key: 'new_key', name: 'Notify', connection_config_key: 'hooks', direction: 'one_way' }]);
    expect(renamed).toEqual({ status: 400, body: { detail: 'Name Notify already exists in PolicyPreWebhook.' } });
    expect((await call('PUT', path, [])).status).toBe(200);
    expect((await call('PUT', path, [{ key: 'new_key', name: 'Notify', connection_config_key: 'hooks', direction: 'one_way' }])).status).toBe(200);
    // A connection still used by a webhook cannot be deleted (no ON DELETE upstream: 500).
    expect((await call('DELETE', '/api/v1/connection/hooks')).status).toBe(500);
  });

  it('has no fidesops paths on 2.x, and no policy DELETE before 2.80', async () => {
    const { call } = await open({ version: '2.79.1' });
    await call('PATCH', '/api/v1/dsr/policy', [{ key: 'p', name: 'P' }]);
    expect((await call('GET', '/api/v1/policy/p/webhook/pre_execution')).status).toBe(404);
    expect((await call('DELETE', '/api/v1/dsr/policy/p')).status).toBe(405);
  });

  it('is a fidesops server with version null: no version in /health, policies under /api/v1/policy', async () => {
    const { target, call } = await open({ version: null });
    const health = (await (await fetch(`${target.url}/health`)).json()) as Record<string, unknown>;
    expect(health).not.toHaveProperty('version');
    expect((await call('PATCH', '/api/v1/policy', [{ key: 'p', name: 'P' }])).status).toBe(200);
    expect((await call('GET', '/api/v1/dsr/policy')).status).toBe(404);
    const page = await call<Record<string, unknown>>('GET', '/api/v1/policy/p/webhook/pre_execution');
    expect(page.body).toEqual({ items: [], total: 0, page: 1, size: 50 });
  });
});
