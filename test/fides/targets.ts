/**
 * Fides servers for the `--fides-url` tests, each behind a recording, fault-injecting proxy.
 * Minimal local version (serve only) of the shared module of the same name: its API is the one
 * the Fides-target tests are written against; the full version adds the Fides 2.8x double.
 */
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServe, type ServeProcess } from '../serve/processes.js';

export interface FailRule {
  method?: string;
  path: string | RegExp;
  status?: number;
  body?: string;
  contentType?: string;
  times?: number;
  delayMs?: number;
  reset?: boolean;
}

export interface FidesTestTarget {
  name: 'serve' | 'double';
  url: string;
  clientId: string;
  clientSecret: string;
  /** make the next matching calls fail (works on both targets: a recording, fault-injecting proxy sits in front) */
  fail(rule: FailRule): void;
  /** every call the proxy saw, in order */
  calls(): { method: string; path: string; status: number }[];
  resetCalls(): void;
  close(): Promise<void>;
}

/** A proxy on loopback in front of `upstream` that records calls and applies the fail rules. */
async function startProxy(upstream: string): Promise<{ url: string; fail(rule: FailRule): void; calls(): { method: string; path: string; status: number }[]; resetCalls(): void; close(): Promise<void> }> {
  const rules: (FailRule & { left: number })[] = [];
  let seen: { method: string; path: string; status: number }[] = [];
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const urlPath = (req.url ?? '/').split('?')[0]!;
    const rule = rules.find((r) => r.left > 0 && (!r.method || r.method === method) && (typeof r.path === 'string' ? r.path === urlPath : r.path.test(urlPath)));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (rule) rule.left--;
        if (rule?.delayMs) await sleep(rule.delayMs);
        if (rule?.reset) {
          seen.push({ method, path: urlPath, status: 0 });
          req.socket.destroy();
          return;
        }
        if (rule?.status !== undefined) {
          seen.push({ method, path: urlPath, status: rule.status });
          res.writeHead(rule.status, { 'content-type': rule.contentType ?? 'application/json', ...(rule.status === 503 || rule.status === 429 ? { 'retry-after': '0' } : {}) });
          res.end(rule.body ?? '{"detail":"injected failure"}');
          return;
        }
        const headers = { ...req.headers };
        delete headers.host;
        // fetch decodes what it asks compressed: ask for it plain so the body is passed on as is.
        delete headers['accept-encoding'];
        try {
          const answer = await fetch(`${upstream}${req.url}`, { method, headers: headers as Record<string, string>, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
          const body = Buffer.from(await answer.arrayBuffer());
          seen.push({ method, path: urlPath, status: answer.status });
          const out: Record<string, string> = {};
          answer.headers.forEach((v, k) => {
            if (k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection' && k !== 'keep-alive') out[k] = v;
          });
          res.writeHead(answer.status, out);
          res.end(body);
        } catch {
          seen.push({ method, path: urlPath, status: 502 });
          res.writeHead(502).end();
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    fail: (rule) => rules.push({ ...rule, left: rule.times ?? 1 }),
    calls: () => [...seen],
    resetCalls: () => (seen = []),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `hookctl serve` on loopback with its own SQLite state, root client credentials, behind the proxy. */
export async function startServeTarget(_opts: { scopes?: string[] } = {}): Promise<FidesTestTarget> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-fides-serve-'));
  const clientId = 'hookctl-test-root';
  const clientSecret = `root-secret-${Math.random().toString(36).slice(2)}`;
  const serve: ServeProcess = await startServe(
    { name: 'sqlite', url: `sqlite:${path.join(dir, 'serve.db')}`, dir },
    [],
    { HOOKCTL_OAUTH_ROOT_CLIENT_ID: clientId, HOOKCTL_OAUTH_ROOT_CLIENT_SECRET: clientSecret },
  );
  const proxy = await startProxy(serve.base);
  return {
    name: 'serve',
    url: proxy.url,
    clientId,
    clientSecret,
    fail: proxy.fail,
    calls: proxy.calls,
    resetCalls: proxy.resetCalls,
    async close() {
      await proxy.close();
      await serve.crash();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const TARGET_STARTERS: { name: 'serve' | 'double'; start: (opts?: { scopes?: string[] }) => Promise<FidesTestTarget> }[] = [{ name: 'serve', start: startServeTarget }];
