/**
 * The Fides area: plan/apply against `hookctl serve` on loopback (N policies × 20 webhooks),
 * through a counting proxy; baseline: a plain fetch loop issuing the same GETs at the same
 * parallelism (fides-baseline.ts). Call counts show that a no-op apply writes nothing and a 1%
 * change writes one PUT per changed list.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { generateManifests, GENERATED_ENV } from './generate.js';
import { check, CLI, measureNodeAsync, table } from './measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASELINE = path.join(here, 'fides-baseline.js');
const PARALLELISM = 8;

export async function benchFides(policies = 500): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-bench-fides-'));
  const clientId = 'bench-root';
  const clientSecret = 'bench-root-secret';
  const serve = await startServe(dir, { HOOKCTL_OAUTH_ROOT_CLIENT_ID: clientId, HOOKCTL_OAUTH_ROOT_CLIENT_SECRET: clientSecret });
  const proxy = await countingProxy(serve.base);
  try {
    const manifests = path.join(dir, 'manifests');
    generateManifests(manifests, { policies });
    const env = {
      ...GENERATED_ENV,
      HOOKCTL_DATABASE_URL: `sqlite:${path.join(dir, 'bookkeeping.db')}`,
      HOOKCTL_FIDES_URL: proxy.url,
      HOOKCTL_FIDES_CLIENT_ID: clientId,
      HOOKCTL_FIDES_CLIENT_SECRET: clientSecret,
    };
    const rows: (string | number)[][] = [];
    const step = async (name: string, args: string[], okCodes?: number[]) => {
      proxy.reset();
      const m = await measureNodeAsync(CLI, [...args, '--parallelism', String(PARALLELISM)], { cwd: dir, env, okCodes });
      const c = proxy.counts();
      rows.push([name, m.ms, String(c.gets), String(c.writes), String(c.puts), m.rssMb]);
      return { m, c };
    };
    await step('first apply', ['apply', '--auto-approve', 'manifests']);
    const plan0 = await step('no-op plan', ['plan', '--detailed-exitcode', 'manifests']);
    const apply0 = await step('no-op apply', ['apply', '--auto-approve', 'manifests']);
    generateManifests(manifests, { policies, changedShare: 0.01 });
    // The generator renames the first webhook of both lists of every 100th policy.
    const changedLists = 2 * Math.ceil(policies / 100);
    const change = await step('1% change apply', ['apply', '--auto-approve', 'manifests']);
    proxy.reset();
    const baseline = await measureNodeAsync(BASELINE, [proxy.url, clientId, clientSecret, String(PARALLELISM)], { cwd: dir, env: {} });
    const b = proxy.counts();
    rows.push(['baseline: fetch loop, same GETs', baseline.ms, String(b.gets), String(b.writes), String(b.puts), baseline.rssMb]);
    const peak = Math.max(...rows.slice(0, 4).map((r) => r[5] as number));
    const ratio = plan0.m.ms / baseline.ms;
    return [
      `Fides target (hookctl serve on loopback, ${policies} policies × 20 webhooks, --parallelism ${PARALLELISM}; each row one process, wall ms; calls counted at a proxy)`,
      table(['run', 'wall ms', 'GETs', 'writes', 'PUTs', 'peak RSS MB'], rows),
      check('no-op plan ≤ 2× baseline', ratio <= 2, `${ratio.toFixed(2)}×`),
      check('no-op apply makes 0 write calls', apply0.c.writes === 0, String(apply0.c.writes)),
      check(`1% change: one PUT per changed list (${changedLists})`, change.c.puts === changedLists && change.c.writes === changedLists, `${change.c.puts} PUTs, ${change.c.writes} writes`),
      check('peak RSS ≤ 300 MB', peak <= 300, `${peak.toFixed(0)} MB`),
    ].join('\n');
  } finally {
    await proxy.close();
    serve.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}


async function startServe(dir: string, env: Record<string, string>): Promise<{ base: string; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--log-level', 'error'], {
    cwd: dir,
    env: { ...process.env, ...env, HOOKCTL_DATABASE_URL: `sqlite:${path.join(dir, 'serve.db')}`, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { base, child };
}

/** A pass-through proxy that counts calls by kind (the token POST is not a write to the configuration). */
async function countingProxy(upstream: string) {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let counts = { gets: 0, writes: 0, puts: 0 };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') counts.gets++;
    else if (!req.url?.startsWith('/api/v1/oauth/token')) {
      counts.writes++;
      if (req.method === 'PUT' && req.url?.includes('/webhook/')) counts.puts++;
    }
    const upstreamReq = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstreamReq.on('error', () => res.writeHead(502).end());
    req.pipe(upstreamReq);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reset: () => (counts = { gets: 0, writes: 0, puts: 0 }),
    counts: () => ({ ...counts }),
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
