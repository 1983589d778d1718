/**
 * `hookctl mock serve` with its admin API, against a real `hookctl serve`, both built CLI
 * processes on real ports: a folder of scenarios served together, the journal, and a halted
 * request resumed by hand through `POST /__hookctl/resume/{id}`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../helpers/backends.js';
import { CLI, runCli } from '../helpers/cli.js';
import { applyManifest, createRequests, createToken, getRequest, HOOK_TOKEN, killAllServes, startServe, steps, writeManifest, type ServeProcess } from '../serve/processes.js';
import { writeTree } from '../harness/helpers.js';

const IDENTITY = `name: identity halts and waits
endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: true } }
requests: [{ policy_key: access, identity: { email: a@example.com } }]
`;
const AUDIT = `name: audit answers
endpoints:
  - url: https://audit.example.com/hooks/privacy
    respond: { status: 200, body: {} }
requests: [{ policy_key: access, identity: { email: a@example.com } }]
`;

interface Mock {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
}

const children: ChildProcess[] = [];

async function startMock(cwd: string, args: string[]): Promise<Mock> {
  const child = spawn(process.execPath, [CLI, 'mock', 'serve', ...args, '--port', '0'], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const found = /listening on (http:\/\/\S+)\n/.exec(stdout);
      if (found) resolve(found[1]!);
    });
    child.on('close', (code) => reject(new Error(`mock serve exited ${code}: ${stderr}`)));
  });
  return { child, url, stdout: () => stdout, stderr: () => stderr };
}

interface Entry {
  at: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: { privacy_request_id?: string; callback_type?: string } | null;
  endpoint: string | null;
  status: number | null;
}

async function journal(mock: Mock): Promise<Entry[]> {
  const res = await fetch(`${mock.url}/__hookctl/requests`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { requests: Entry[] }).requests;
}

let dir: string;
let backend: Backend;
let serve: ServeProcess;
let mock: Mock;
let token: string;

beforeAll(async () => {
  dir = writeTree({ 'scenarios/identity.yaml': IDENTITY, 'scenarios/audit.yaml': AUDIT });
  backend = { name: 'sqlite', url: `sqlite:${path.join(dir, 'state.db')}`, dir };
  serve = await startServe(backend);
  mock = await startMock(dir, ['scenarios', '--callback-base', serve.base]);
  await applyManifest(
    backend,
    writeManifest(dir, {
      access: {
        pre: [{ key: 'resolve', direction: 'two_way', url: `${mock.url}/identity.example.com/hooks/privacy` }],
        post: [{ key: 'audit', direction: 'one_way', url: `${mock.url}/audit.example.com/hooks/privacy` }],
      },
    }),
  );
  token = await createToken(backend, ['privacy-request:create', 'privacy-request:read']);
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await killAllServes();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('hookctl mock serve: a folder and the admin API', () => {
  it('serves the endpoints of every scenario in the folder and prints where', () => {
    expect(mock.stdout()).toContain('2 scenarios listening on');
    expect(mock.stdout()).toContain(`POST ${mock.url}/identity.example.com/hooks/privacy  ← https://identity.example.com/hooks/privacy`);
    expect(mock.stdout()).toContain(`POST ${mock.url}/audit.example.com/hooks/privacy  ← https://audit.example.com/hooks/privacy`);
  });

  it('journals the halting call with its reply-to token, and resumes the request on demand through serve', async () => {
    const [id] = await createRequests(serve.base, token, [{ policy_key: 'access', identity: { email: 'a@example.com' } }]);
    const paused = await until(() => getRequest(serve.base, token, id!), (v) => v.status === 'paused');
    expect(paused.status).toBe('paused');

    const entries = await journal(mock);
    const call = entries.find((e) => e.body?.privacy_request_id === id)!;
    expect(call).toMatchObject({
      method: 'POST',
      url: `${mock.url}/identity.example.com/hooks/privacy`,
      endpoint: 'https://identity.example.com/hooks/privacy',
      status: 200,
      body: { privacy_request_id: id, callback_type: 'pre' },
    });
    expect(Date.parse(call.at)).not.toBeNaN();
    expect(call.headers.authorization).toBe(HOOK_TOKEN);
    expect(call.headers['reply-to']).toBe(`/privacy-request/${id}/resume`);
    expect(call.headers['reply-to-token']).toMatch(/^eyJ/);

    const resumed = await fetch(`${mock.url}/__hookctl/resume/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ derived_identity: { phone_number: '+15555550199' } }),
    });
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toMatchObject({ id, status: expect.stringMatching(/^(pending|in_processing|complete)$/) });

    const done = await until(() => getRequest(serve.base, token, id!), (v) => v.status === 'complete');
    expect(done.status).toBe('complete');
    expect(steps(done)).toEqual(['pre:resolve:halt', 'pre:resumed', 'execute:executed', 'post:audit:continue']);
    expect((done as unknown as { identity: { phone_number: string } }).identity.phone_number).toBe('+15555550199');

    // The same token again: serve's own answer (the token is single use) is passed through.
    const again = await fetch(`${mock.url}/__hookctl/resume/${id}`, { method: 'POST' });
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(await again.json()).toHaveProperty('detail');
  });

  it('clears the journal on DELETE, and says when it holds no token for a request', async () => {
    expect((await journal(mock)).length).toBeGreaterThan(0);
    expect((await fetch(`${mock.url}/__hookctl/requests`, { method: 'DELETE' })).status).toBe(200);
    expect(await journal(mock)).toEqual([]);
    const res = await fetch(`${mock.url}/__hookctl/resume/pri_unknown`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "no reply-to-token received for privacy request 'pri_unknown'" });
  });

  it('refuses a folder that declares the same endpoint twice (exit 3)', async () => {
    const twice = writeTree({ 'a.yaml': IDENTITY, 'b.yaml': IDENTITY.replace('identity halts and waits', 'another identity') });
    const res = await runCli(['mock', 'serve', '.'], { cwd: twice });
    expect(res.code).toBe(3);
    expect(res.stderr).toContain("error: endpoint POST https://identity.example.com/hooks/privacy is declared by scenario 'identity halts and waits' and by scenario 'another identity'");
  });
});
