/**
 * `hookctl mock serve` as a process, driven by the real engine and API server in this process
 * (what a `hookctl serve` would be): connections point at the mock's port, its answers steer the
 * requests, and its resume callbacks reach the API over loopback HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivacyRequests, getPrivacyRequest } from '../../src/engine/service.js';
import type { RequestView } from '../../src/engine/request-views.js';
import { served } from '../engine/fixtures.js';
import { Worker } from '../../src/engine/worker.js';
import { loadManifests } from '../../src/manifest/load.js';
import { applyManifests } from '../../src/reconcile/apply.js';
import { buildServer } from '../../src/server/app.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../../src/state/database.js';
import { deriveKeys } from '../../src/state/keys.js';
import { startMockServer } from '../../harness/mock-server.js';
import { CLI, runCli } from '../helpers/cli.js';
import { scenariosFrom, writeTree } from '../harness/helpers.js';

const HOOK_TOKEN = 'mock-hook-secret-9001';

const SCENARIO = `name: identity halts and resumes at once
endpoints:
  - url: https://identity.example.com/hooks/privacy
    respond: { status: 200, body: { halt: true } }
    # after_ms 0: the callback races the pause; the server waits for the pause to be committed.
    then: { resume: { after_ms: 0, body: { derived_identity: { phone_number: "+15555550120" } } } }
  - url: https://cache.example.com/bust
    respond: { status: 204 }
requests:
  - { policy_key: access, identity: { email: a@example.com } }
`;

interface Mock {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startMock(dir: string, callbackBase: string): Promise<Mock> {
  const child = spawn(process.execPath, [CLI, 'mock', 'serve', 'scenario.yaml', '--port', '0', '--callback-base', callbackBase], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const found = /listening on (http:\/\/\S+)\n/.exec(stdout);
      if (found) resolve(found[1]!);
    });
    void exited.then((code) => reject(new Error(`mock serve exited ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}

let dir: string;
let db: Database;
let app: FastifyInstance;
let worker: Worker;
let mock: Mock;

beforeAll(async () => {
  dir = writeTree({ 'scenario.yaml': SCENARIO });
  db = await openDatabase(parseDatabaseUrl('sqlite:state.db', dir));
  const keys = deriveKeys(randomBytes(32));
  app = await buildServer({ db, keys });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  mock = await startMock(dir, `http://127.0.0.1:${address.port}`);

  const manifests = path.join(dir, 'manifests.yaml');
  const connection = (key: string, url: string) =>
    `  - { key: ${key}, name: ${key}, connection_type: https, secrets: { url: "${url}", authorization: { env: HOOK_TOKEN } } }\n`;
  const text =
    'connection:\n' +
    connection('identity', `${mock.url}/identity.example.com/hooks/privacy`) +
    connection('cache', `${mock.url}/cache.example.com/bust`) +
    connection('nowhere', `${mock.url}/nowhere.example.com/hook`) +
    `policy:
  - key: access
    name: Access
    pre_execution_webhooks: [{ key: resolve, name: Resolve, connection_config_key: identity, direction: two_way }]
    post_execution_webhooks: [{ key: bust, name: Bust, connection_config_key: cache, direction: one_way }]
  - key: broken
    name: Broken
    pre_execution_webhooks: [{ key: lost, name: Lost, connection_config_key: nowhere, direction: one_way }]
`;
  fs.writeFileSync(manifests, text);
  const { state, diagnostics } = loadManifests([manifests], { cwd: dir });
  if (!state) throw new Error(diagnostics.map((d) => d.message).join('; '));
  await applyManifests(db, keys, state, { lockTimeoutMs: 5000, actor: 'test', env: { HOOK_TOKEN }, prune: false, approve: async () => true });
  worker = new Worker(db, keys, { webhookTimeoutMs: 3000 });
  worker.start();
});

afterAll(async () => {
  mock?.child.kill('SIGTERM');
  await worker?.stop();
  await app?.close();
  await db?.close();
});

async function settled(policy: string): Promise<RequestView> {
  const { succeeded } = await createPrivacyRequests(db, [{ policy_key: policy, identity: { email: 'a@example.com' } }]);
  const id = succeeded[0]!.id;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = await served(getPrivacyRequest(db, id));
    if (found.status !== 200) throw new Error(`no request ${id}`);
    if (['complete', 'error'].includes(found.body.status) || Date.now() > deadline) return found.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('hookctl mock serve (built CLI)', () => {
  it('answers a real engine at /HOST/PATH and resumes the halted request through the API', async () => {
    const view = await settled('access');
    expect(view.status).toBe('complete');
    expect(view.identity.phone_number).toBe('+15555550120');
    expect(view.timeline.map((t) => [t.webhook_key, t.outcome, t.status_code])).toEqual([
      ['resolve', 'halt', 200],
      [null, 'resumed', null],
      [null, 'executed', null],
      ['bust', 'continue', 204],
    ]);
    const log = mock.stderr();
    expect(log).toMatch(new RegExp(`#1 \\+\\d+ms POST https://identity\\.example\\.com/hooks/privacy pre two_way → 200 \\(${view.id}\\)\\n`));
    expect(log).toContain(`resume after #1 (${view.id}, token: valid) → 200\n`);
    expect(log).toMatch(/#2 \+\d+ms POST https:\/\/cache\.example\.com\/bust post one_way → 204/);
    // Neither the authorization value nor the reply-to token is ever printed.
    expect(log).not.toContain(HOOK_TOKEN);
    expect(log).not.toMatch(/eyJ[\w-]*\.\./);
  });

  it('answers a path no endpoint declares with 404 naming the closest declared url', async () => {
    const view = await settled('broken');
    // one_way: any answer lets the request go on; the timeline keeps the 404.
    expect(view.timeline.find((t) => t.webhook_key === 'lost')).toMatchObject({ status_code: 404 });
    expect(mock.stderr()).toContain('POST /nowhere.example.com/hook → 404: no endpoint');
    const res = await fetch(`${mock.url}/identity.example.com/hooks/privcy`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: 'no endpoint for POST /identity.example.com/hooks/privcy', closest: 'https://identity.example.com/hooks/privacy' });
    const bust = await fetch(`${mock.url}/cache.example.com/bus`, { method: 'GET' });
    expect(await bust.json()).toEqual({ detail: 'no endpoint for GET /cache.example.com/bus', closest: 'https://cache.example.com/bust' });
  });

  it('stops cleanly on SIGTERM', async () => {
    mock.child.kill('SIGTERM');
    expect(await mock.exited).toBe(0);
  });

  it('refuses a scenario with resume callbacks but no --callback-base (exit 64)', async () => {
    const res = await runCli(['mock', 'serve', 'scenario.yaml'], { cwd: dir });
    expect(res.code).toBe(64);
    expect(res.stderr).toContain("scenario 'identity halts and resumes at once' sends resume callbacks, and there is nowhere to send them");
    expect(res.stderr).toContain('hint: give --callback-base');
  });

  it('journals a resume with an expired token as not sent: only simulate holds the engine key to make one', async () => {
    const [scenario] = await scenariosFrom(`name: expired
endpoints:
  - { url: https://identity.example.com/hooks/privacy, respond: { status: 200, body: { halt: true } }, then: { resume: { token: expired } } }
requests: [{ policy_key: access, identity: { email: a@example.com } }]
`);
    const lines: string[] = [];
    const server = await startMockServer(scenario!, { callbackBase: 'http://127.0.0.1:9', log: (line) => lines.push(line) });
    try {
      const res = await fetch(`${server.url}/identity.example.com/hooks/privacy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'reply-to': '/privacy-request/pri_1/resume', 'reply-to-token': 'token-value' },
        body: JSON.stringify({ privacy_request_id: 'pri_1', direction: 'two_way', callback_type: 'pre' }),
      });
      expect(await res.json()).toEqual({ halt: true });
      for (let i = 0; i < 100 && server.journals[0]!.resumes.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(server.journals[0]!.resumes[0]).toMatchObject({ status: null, error: "an expired token needs the engine's key: only hookctl simulate can make one" });
      expect(lines).toEqual([
        expect.stringMatching(/^#1 \+\d+ms POST https:\/\/identity\.example\.com\/hooks\/privacy pre two_way → 200 \(pri_1\)$/),
        "resume after #1 (pri_1, token: expired) → not sent: an expired token needs the engine's key: only hookctl simulate can make one",
      ]);
    } finally {
      await server.close();
    }
  });
});
