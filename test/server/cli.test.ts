/**
 * `hookctl token create` and `hookctl serve` as processes of the built CLI: output, exit codes,
 * a real listening server with the worker, structured logs without credentials, and a clean
 * stop on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY } from '../helpers/backends.js';
import { CLI } from '../helpers/cli.js';
import { verifyApiToken } from '../../src/server/auth.js';
import { deriveKeys, parseMasterKey } from '../../src/state/keys.js';

const KEYS = deriveKeys(parseMasterKey(TEST_MASTER_KEY, 'test key'));
const ROOT = { HOOKCTL_OAUTH_ROOT_CLIENT_ID: 'ops-root', HOOKCTL_OAUTH_ROOT_CLIENT_SECRET: 'root-secret-value-31337' };
const HOOK_URL = 'https://hooks.example.com/privacy?sig=url-secret-777';
const HOOK_AUTH = 'Bearer hook-authorization-secret-888';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('server_cli');
});
afterAll(async () => env.drop());

function start(args: string[], cwd: string, extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out, exited };
}

async function run(args: string[], cwd: string) {
  const p = start(args, cwd);
  return { code: await p.exited, ...p.out };
}

describe('hookctl token create', () => {
  it('prints only a token with exactly the given scopes and lifetime', async () => {
    const dir = env.backends[0]!.dir;
    const res = await run(['token', 'create', '--scopes', 'webhook:read, policy:read', '--ttl', '5m'], dir);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = await verifyApiToken(KEYS, res.stdout.trim());
    expect(claims?.scopes).toEqual(['webhook:read', 'policy:read']);
    expect(claims!.exp - claims!.iat).toBe(300);
  });

  it('exits 64 naming an unknown scope and listing the valid ones', async () => {
    const res = await run(['token', 'create', '--scopes', 'webhook:read,webhook:write'], env.backends[0]!.dir);
    expect(res.code).toBe(64);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain("unknown scope 'webhook:write'");
    expect(res.stderr).toContain('valid scopes: connection:read, connection:create_or_update');
  });

  it('exits 64 for a bad --ttl or missing --scopes', async () => {
    expect((await run(['token', 'create', '--scopes', 'webhook:read', '--ttl', 'soon'], env.backends[0]!.dir)).code).toBe(64);
    expect((await run(['token', 'create'], env.backends[0]!.dir)).code).toBe(64);
  });
});

describe.each(['sqlite', 'postgres'] as const)('hookctl serve on %s', (backendName) => {
  it('serves the API and the worker, logs without credentials, and stops cleanly on SIGTERM', async () => {
    const backend = env.backends.find((b) => b.name === backendName)!;
    const serve = start(['serve', '--port', '0', '--database-url', backend.url, '--concurrency', '4'], backend.dir, ROOT);
    const deadline = Date.now() + 20_000;
    while (!serve.out.stdout.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const line = serve.out.stdout;
    expect(line).toMatch(/^hookctl serve listening on http:\/\/127\.0\.0\.1:\d+ \(state: (sqlite:|postgres:)/);
    if (backendName === 'postgres') expect(line).not.toContain('password');
    const base = /listening on (\S+)/.exec(line)![1]!;

    expect(await (await fetch(`${base}/api/v1/health`)).json()).toMatchObject({ status: 'healthy' });
    const tokenRes = await fetch(`${base}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: ROOT.HOOKCTL_OAUTH_ROOT_CLIENT_ID, client_secret: ROOT.HOOKCTL_OAUTH_ROOT_CLIENT_SECRET }).toString(),
    });
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    const call = (method: string, p: string, body: unknown) =>
      fetch(`${base}${p}`, { method, headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await call('PATCH', '/api/v1/connection', [{ key: 'hooks', name: 'Hooks', connection_type: 'https' }])).status).toBe(200);
    expect((await call('PUT', '/api/v1/connection/hooks/secret', { url: HOOK_URL, authorization: HOOK_AUTH })).status).toBe(200);
    // A wrong secret is logged as a 4xx request, never with the body.
    expect((await call('PUT', '/api/v1/connection/hooks/secret', { url: 'http://example.com/?sig=url-secret-777', authorization: HOOK_AUTH })).status).toBe(422);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    const logs = serve.out.stderr.trim().split('\n');
    expect(logs.length).toBeGreaterThan(3);
    for (const l of logs) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(serve.out.stderr).toContain('"url":"/api/v1/connection/hooks/secret"');
    expect(serve.out.stderr).toContain('shutting down');
    for (const secret of [access_token, ROOT.HOOKCTL_OAUTH_ROOT_CLIENT_SECRET, 'url-secret-777', HOOK_AUTH, 'hook-authorization-secret']) {
      expect(serve.out.stderr).not.toContain(secret);
    }
  });

  it('exits 64 for a bad --port', async () => {
    const backend = env.backends.find((b) => b.name === backendName)!;
    const res = await run(['serve', '--port', 'eighty', '--database-url', backend.url], backend.dir);
    expect(res.code).toBe(64);
    expect(res.stderr).toContain("--port 'eighty' is not an integer");
  });
});
