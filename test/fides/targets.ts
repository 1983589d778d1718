/**
 * Fides servers to test a Fides client against: a real `hookctl serve` process on loopback, or
 * the double of a Fides 2.8x server (double.ts). Each sits behind a recording, fault-injecting
 * proxy (proxy.ts), so that every test, failures included, runs the same way on both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServe } from '../serve/processes.js';
import { REMOTE_APPLY_SCOPES, startDoubleServer } from './double.js';
import { startFaultProxy, type FaultProxy } from './proxy.js';

export { REMOTE_APPLY_SCOPES } from './double.js';

export interface FidesTestTarget {
  name: 'serve' | 'double';
  url: string;
  clientId: string;
  clientSecret: string;
  /** make the next matching calls fail (works on both targets: a recording, fault-injecting proxy sits in front) */
  fail(rule: { method?: string; path: string | RegExp; status?: number; body?: string; contentType?: string; times?: number; delayMs?: number; reset?: boolean }): void;
  /** every call the proxy saw, in order */
  calls(): { method: string; path: string; status: number }[];
  resetCalls(): void;
  close(): Promise<void>;
}

const SERVE_ROOT = { id: 'fides-target-root', secret: 'fides-target-root-secret-8e1f' };

function behind(proxy: FaultProxy, fields: Pick<FidesTestTarget, 'name' | 'clientId' | 'clientSecret'>, closeTarget: () => Promise<void>): FidesTestTarget {
  return {
    ...fields,
    url: proxy.url,
    fail: (rule) => proxy.fail(rule),
    calls: () => proxy.calls(),
    resetCalls: () => proxy.resetCalls(),
    async close() {
      await proxy.close();
      await closeTarget();
    },
  };
}

/**
 * A real `hookctl serve` on a fresh SQLite state, with an OAuth client holding `scopes` (default:
 * all a remote apply needs) made through serve's own API (POST /oauth/client as the root client).
 */
export async function startServeTarget(opts: { scopes?: string[] } = {}): Promise<FidesTestTarget> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-fides-serve-'));
  const serve = await startServe(
    { name: 'sqlite', url: `sqlite:${path.join(dir, 'state.db')}`, dir },
    [],
    { HOOKCTL_OAUTH_ROOT_CLIENT_ID: SERVE_ROOT.id, HOOKCTL_OAUTH_ROOT_CLIENT_SECRET: SERVE_ROOT.secret },
  );
  const stop = async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const token = await fetch(`${serve.base}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: SERVE_ROOT.id, client_secret: SERVE_ROOT.secret, grant_type: 'client_credentials' }),
    });
    if (token.status !== 200) throw new Error(`serve's token endpoint answered ${token.status}`);
    const { access_token } = (await token.json()) as { access_token: string };
    const created = await fetch(`${serve.base}/api/v1/oauth/client`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'hookctl test client', scopes: opts.scopes ?? REMOTE_APPLY_SCOPES }),
    });
    if (created.status !== 200) throw new Error(`serve's POST /oauth/client answered ${created.status}: ${await created.text()}`);
    const client = (await created.json()) as { client_id: string; client_secret: string };
    const proxy = await startFaultProxy(serve.base);
    return behind(proxy, { name: 'serve', clientId: client.client_id, clientSecret: client.client_secret }, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The double of a Fides 2.8x server (`version` null: fidesops, no version in /health, /api/v1/policy paths). */
export async function startFidesDouble(opts: { version?: string | null; scopes?: string[]; tokenTtlSeconds?: number } = {}): Promise<FidesTestTarget> {
  const double = await startDoubleServer(opts);
  const proxy = await startFaultProxy(double.url);
  return behind(proxy, { name: 'double', clientId: double.clientId, clientSecret: double.clientSecret }, () => double.close());
}

export const TARGET_STARTERS: { name: 'serve' | 'double'; start: (opts?: { scopes?: string[] }) => Promise<FidesTestTarget> }[] = [
  { name: 'serve', start: startServeTarget },
  { name: 'double', start: startFidesDouble },
];
