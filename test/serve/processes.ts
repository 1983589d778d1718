/**
 * `hookctl serve` as real processes of the built CLI (dist/, made by `npm test`'s build step):
 * started on a free port, read back from its startup line, and killed like a crash would.
 * Plus what the tests around it need: manifests for receiver endpoints, tokens, API calls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { CLI, runCli } from '../helpers/cli.js';

/** Secret ref target of every connection's authorization in these tests. */
export const HOOK_TOKEN = 'Bearer serve-test-hook-token-41c7';

export function cliEnv(backend: Backend): Record<string, string> {
  return { HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, HOOKCTL_DATABASE_URL: backend.url, HOOK_TOKEN };
}

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT`, from the startup line. */
  base: string;
  /** The startup line, without its newline. */
  line: string;
  /** The lease owner id of this process's worker (from its `serving` log entry; '' when logs are not JSON at info level). */
  owner: string;
  output: { stdout: string; stderr: string };
  exited: Promise<number | null>;
  /** SIGKILL: no shutdown handler runs, no lease is released, nothing is flushed. */
  crash(): Promise<void>;
}

const running = new Set<ChildProcess>();

/**
 * `hookctl serve --port 0 …` on `backend`; resolves once it listens, rejects if it exits first.
 * `servingLog: false` for logs that have no JSON `serving` entry (pretty, or above info).
 */
export async function startServe(backend: Backend, args: string[] = [], env: Record<string, string> = {}, { servingLog = true } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    cwd: backend.dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...cliEnv(backend), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => (running.delete(child), resolve(code))));
  // Both the startup line (stdout) and the `serving` log entry (stderr, written just before).
  const started = (): { line: string; owner: string } | undefined => {
    const end = output.stdout.indexOf('\n');
    const serving = output.stderr
      .split('\n')
      .filter((l) => servingLog && l.includes('"msg":"serving"'))
      .map((l) => JSON.parse(l) as { worker: string })[0];
    if (end < 0 || (servingLog && !serving)) return undefined;
    return { line: output.stdout.slice(0, end), owner: serving?.worker ?? '' };
  };
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + 20_000;
  let ready = started();
  while (!ready) {
    if (exitCode !== undefined) throw new Error(`serve exited ${exitCode} before listening:\n${output.stderr}`);
    if (Date.now() > deadline) throw new Error(`serve did not start in 20 s:\n${output.stderr}`);
    await sleep(10);
    ready = started();
  }
  const { line, owner } = ready;
  const base = /listening on (http:\/\/\S+)/.exec(line)?.[1];
  if (!base) throw new Error(`unexpected startup line: ${line}`);
  return {
    child,
    base,
    line,
    owner,
    output,
    exited,
    async crash() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** SIGKILL every serve a test left running (a failed test must not leave processes behind). */
export async function killAllServes(): Promise<void> {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('close', resolve)))));
}

export interface HookSpec {
  key: string;
  direction: 'one_way' | 'two_way';
  url: string;
}

/** One policy per entry, each webhook on a connection of its own (the URL belongs to the connection). */
export function writeManifest(dir: string, policies: Record<string, { pre?: HookSpec[]; post?: HookSpec[] }>): string {
  const connections: string[] = ['connection:'];
  const lines: string[] = ['policy:'];
  for (const [policyKey, lists] of Object.entries(policies)) {
    lines.push(`  - key: ${policyKey}`, `    name: ${policyKey} policy`);
    for (const phase of ['pre', 'post'] as const) {
      lines.push(`    ${phase}_execution_webhooks:`);
      for (const hook of lists[phase] ?? []) {
        connections.push(
          `  - key: ${hook.key}_connection`,
          `    name: ${hook.key} connection`,
          '    connection_type: https',
          '    secrets:',
          `      url: ${hook.url}`,
          '      authorization: { env: HOOK_TOKEN }',
        );
        lines.push(`      - { key: ${hook.key}, name: ${hook.key} webhook, connection_config_key: ${hook.key}_connection, direction: ${hook.direction} }`);
      }
      if ((lists[phase] ?? []).length === 0) lines[lines.length - 1] += ' []';
    }
  }
  const file = path.join(dir, 'manifests', 'hooks.yaml');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${connections.join('\n')}\n${lines.join('\n')}\n`);
  return file;
}

/** `hookctl apply --auto-approve` of `file`, through the built CLI. */
export async function applyManifest(backend: Backend, file: string): Promise<void> {
  const res = await runCli(['apply', '--auto-approve', file], { cwd: backend.dir, env: cliEnv(backend) });
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
}

/** `hookctl token create`, through the built CLI. */
export async function createToken(backend: Backend, scopes: string[]): Promise<string> {
  const res = await runCli(['token', 'create', '--scopes', scopes.join(',')], { cwd: backend.dir, env: cliEnv(backend) });
  expect(res.code).toBe(0);
  return res.stdout.trim();
}

export interface RequestView {
  id: string;
  status: string;
  resume_endpoint: string | null;
  failure_reason: string | null;
  timeline: { webhook_key: string | null; callback_type: string | null; outcome: string }[];
}

export async function api<T>(base: string, token: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** POST /api/v1/privacy-request; every item must be queued. */
export async function createRequests(base: string, token: string, items: { policy_key: string; identity: { email: string } }[]): Promise<string[]> {
  const res = await api<{ succeeded: RequestView[]; failed: unknown[] }>(base, token, 'POST', '/api/v1/privacy-request', items);
  expect(res.status).toBe(200);
  expect(res.body.failed).toEqual([]);
  return res.body.succeeded.map((r) => r.id);
}

export async function getRequest(base: string, token: string, id: string): Promise<RequestView> {
  const res = await api<RequestView>(base, token, 'GET', `/api/v1/privacy-request/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** The timeline as `step:webhook:outcome` (or `step:outcome` for non-webhook entries). */
export function steps(view: RequestView): string[] {
  return view.timeline.map((e) => [e.callback_type, e.webhook_key, e.outcome].filter((part) => part !== null).join(':'));
}
