/**
 * One set of limits in manifests and the API, on SQLite and PostgreSQL alike; hostile input
 * (the fuzz corpus in test/fixtures/fuzz/) always ends in a positioned error or a 4xx with
 * `{"detail"}` — never a 500, a stack trace or a hang.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { startServer, type ApiResponse, type TestServer } from '../server/api.js';
import { KEY_MAX_LENGTH } from '../../src/model/keys.js';

const FUZZ = path.resolve(import.meta.dirname, '../fixtures/fuzz');
const MANIFESTS = path.join(FUZZ, 'manifests');

interface ApiCase {
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
}
const API_CASES = JSON.parse(fs.readFileSync(path.join(FUZZ, 'api-bodies.json'), 'utf8')) as ApiCase[];

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('limits');
});
afterAll(async () => env.drop());
const backend = (name: string): Backend => env.backends.find((b) => b.name === name)!;

const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

describe('the manifest fuzz corpus', () => {
  const files = fs.readdirSync(MANIFESTS).filter((f) => f.endsWith('.yaml'));

  it.each(files)('validate %s: exit 3 with a positioned error, no stack trace', async (file) => {
    const r = await runCli(['validate', path.join(MANIFESTS, file)], { cwd: MANIFESTS, timeoutMs: 20_000 });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(new RegExp(`${file.replace('.', '\\.')}:\\d+:\\d+: error\\[`));
    expect(`${r.stdout}${r.stderr}`).not.toMatch(STACK_FRAME);
  });

  it.each(['sqlite', 'postgres'])('plan on %s: exit 3 naming every file, the state untouched', async (name) => {
    const b = backend(name);
    const r = await runCli(['plan', MANIFESTS], { cwd: b.dir, env: { HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY }, timeoutMs: 30_000 });
    expect(r.code).toBe(3);
    for (const file of files) expect(r.stderr).toContain(`${file}:`);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});

describe('values at the limits apply on both backends', () => {
  const key = 'k'.repeat(KEY_MAX_LENGTH);
  const manifest = [
    'connection:',
    `  - key: ${key}`,
    `    name: ${'N'.repeat(200)}`,
    '    connection_type: https',
    `    description: ${'d'.repeat(2000)}`,
    '    secrets:',
    '      url: https://hooks.example.com/x',
    '      authorization: { env: LIMIT_TOKEN }',
    'policy:',
    `  - key: ${'p'.repeat(KEY_MAX_LENGTH)}`,
    `    name: ${'P'.repeat(200)}`,
    '    pre_execution_webhooks:',
    `      - { key: ${'w'.repeat(KEY_MAX_LENGTH)}, name: ${'W'.repeat(200)}, connection_config_key: ${key}, direction: one_way }`,
    '',
  ].join('\n');

  it.each(['sqlite', 'postgres'])('%s: apply, then plan finds no changes', async (name) => {
    const b = backend(name);
    const dir = path.join(b.dir, 'at-limits');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'limits.yaml'), manifest);
    const cliEnv = { HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, LIMIT_TOKEN: 'Bearer limit' };
    const applied = await runCli(['apply', '--auto-approve', dir], { cwd: b.dir, env: cliEnv });
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect((await runCli(['plan', '--detailed-exitcode', dir], { cwd: b.dir, env: cliEnv })).code).toBe(0);
  });

  it('the longest key the schema allows is the longest the model derives', () => {
    const schema = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../schemas/manifest.schema.json'), 'utf8'));
    expect(schema.definitions.fidesKey.maxLength).toBe(KEY_MAX_LENGTH);
  });
});

async function seededServer(b: Backend): Promise<TestServer> {
  const s = await startServer(b, { requestTimeoutMs: 500 });
  await s.request('PATCH', '/api/v1/connection', { body: [{ key: 'fuzz_conn', name: 'Fuzz', connection_type: 'https' }] });
  await s.request('PUT', '/api/v1/connection/fuzz_conn/secret', { body: { url: 'https://hooks.example.com/fuzz', authorization: 'Bearer fuzz' } });
  await s.request('PATCH', '/api/v1/policy', { body: [{ key: 'fuzz_policy', name: 'Fuzz policy' }] });
  await s.request('PUT', '/api/v1/policy/fuzz_policy/webhook/pre_execution', {
    body: [{ key: 'fuzz_hook', name: 'Fuzz hook', connection_config_key: 'fuzz_conn', direction: 'one_way' }],
  });
  return s;
}

describe('the API fuzz corpus, on both backends at once', () => {
  let servers: TestServer[];
  beforeAll(async () => {
    servers = [await seededServer(backend('sqlite')), await seededServer(backend('postgres'))];
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it.each(API_CASES.map((c, i) => [i, c.method, c.path.slice(0, 80), c] as const))('case %i: %s %s is the same 4xx with a detail on both', async (_i, method, _path, c) => {
    const answers: ApiResponse[] = [];
    for (const s of servers) {
      answers.push(
        await s.request(method, c.path, {
          ...(c.body !== undefined ? { body: c.body } : {}),
          ...(c.rawBody !== undefined ? { rawBody: c.rawBody, headers: { 'content-type': c.contentType ?? 'application/json' } } : {}),
        }),
      );
    }
    for (const res of answers) {
      expect(res.status, res.text).toBeGreaterThanOrEqual(400);
      expect(res.status, res.text).toBeLessThan(500);
      expect(res.body).toHaveProperty('detail');
    }
    expect(answers[0]!.status).toBe(answers[1]!.status);
  });
});

describe.each(['sqlite', 'postgres'])('the API on %s', (name) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(backend(name), { requestTimeoutMs: 500 });
  });
  afterAll(async () => s.close());

  it('a key of the longest allowed length is created and addressed again', async () => {
    const key = 'c'.repeat(KEY_MAX_LENGTH);
    const created = await s.request('PATCH', '/api/v1/connection', { body: [{ key, name: 'N'.repeat(200), connection_type: 'https', description: 'd'.repeat(2000) }] });
    expect(created.status).toBe(200);
    expect((created.body as { failed: unknown[] }).failed).toEqual([]);
    const read = await s.request('GET', `/api/v1/connection/${key}`);
    expect(read.status).toBe(200);
    expect(await s.request('DELETE', `/api/v1/connection/${key}`)).toMatchObject({ status: 204 });
  });

  it('GET /health at the root and under /api/v1, with the version; /health/database', async () => {
    for (const prefix of ['', '/api/v1']) {
      const health = await s.request('GET', `${prefix}/health`, { token: null });
      expect([health.status, health.body]).toEqual([200, { status: 'healthy', webserver: 'healthy', version: expect.stringMatching(/^\d+\.\d+\.\d+/) }]);
      const database = await s.request('GET', `${prefix}/health/database`, { token: null });
      expect([database.status, database.body]).toEqual([200, { database: 'healthy' }]);
    }
  });

  /** Sends the headers and one byte of a 100-byte body, then waits for the server's answer and close. */
  async function trickle(authorization: string): Promise<{ text: string; closed: boolean }> {
    const { hostname, port } = new URL(s.base);
    return new Promise<{ text: string; closed: boolean }>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => {
        socket.write(`PATCH /api/v1/policy HTTP/1.1\r\nHost: x\r\n${authorization}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n[`);
      });
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('close', () => resolve({ text: received, closed: true }));
      socket.on('error', reject);
      setTimeout(() => (socket.destroy(), resolve({ text: received, closed: false })), 10_000);
    });
  }

  it('a request whose body does not arrive within the request timeout gets 408 and is closed', async () => {
    const started = Date.now();
    const { text, closed } = await trickle(`Authorization: Bearer ${await s.token()}\r\n`);
    expect(closed).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({ detail: expect.stringContaining('Request Timeout') });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a request refused before its body is read is answered and closed, not held open', async () => {
    const { text, closed } = await trickle('');
    expect(closed).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
  });
});

describe('GET /health/database when the state does not answer', () => {
  it.each(['sqlite', 'postgres'])('%s: 503 unhealthy', async (name) => {
    const s = await startServer(backend(name));
    await s.db.knex.destroy();
    const res = await s.request('GET', '/health/database', { token: null });
    expect([res.status, res.body]).toEqual([503, { database: 'unhealthy' }]);
    await s.app.close();
  });
});

describe('duration flags: one parser, ranges enforced', () => {
  it('an out-of-range --lock-timeout is a usage error (64), not an overflow', async () => {
    const dir = fs.mkdtempSync(path.join(env.backends[0]!.dir, 'durations-'));
    for (const value of ['1000h', '25h', '-1s', '1e3s', 'soon']) {
      const r = await runCli(['apply', '--auto-approve', '--lock-timeout', value, '.'], { cwd: dir });
      expect(r.code, `${value}: ${r.stderr}`).toBe(64);
      expect(r.stderr).toContain(`--lock-timeout '${value}'`);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('1d and a bare number in the documented unit are accepted', async () => {
    const dir = fs.mkdtempSync(path.join(env.backends[0]!.dir, 'durations-'));
    const tokenEnv = { HOOKCTL_MASTER_KEY: TEST_MASTER_KEY };
    expect((await runCli(['token', 'create', '--scopes', 'policy:read', '--ttl', '1d'], { cwd: dir, env: tokenEnv })).code).toBe(0);
    expect((await runCli(['token', 'create', '--scopes', 'policy:read', '--ttl', '3600'], { cwd: dir, env: tokenEnv })).code).toBe(0);
    const tooLong = await runCli(['token', 'create', '--scopes', 'policy:read', '--ttl', '400d'], { cwd: dir, env: tokenEnv });
    expect([tooLong.code, tooLong.stderr]).toEqual([64, expect.stringContaining('use 1s to 365d')]);
    const serve = await runCli(['serve', '--request-timeout', '2h'], { cwd: dir, env: tokenEnv });
    expect([serve.code, serve.stderr]).toEqual([64, expect.stringContaining("--request-timeout '2h' is out of range")]);
  });
});

describe('paths that cannot be created: a clear error, not a hang', () => {
  it('a state, an export folder and a report folder under /proc exit 1 naming the folder', async () => {
    const dir = fs.mkdtempSync(path.join(env.backends[0]!.dir, 'paths-'));
    // apply, not plan: a read-only command creates no state, so it never meets the folder.
    const state = await runCli(['apply', '--auto-approve', '--database-url', 'sqlite:/proc/nope/s.db', '.'], { cwd: dir, timeoutMs: 15_000 });
    expect([state.code, state.stderr]).toEqual([1, expect.stringContaining('error: cannot create the state folder /proc/nope: ENOENT')]);
    const exported = await runCli(['export', '--out', '/proc/x'], { cwd: dir, env: { HOOKCTL_MASTER_KEY: TEST_MASTER_KEY }, timeoutMs: 15_000 });
    expect([exported.code, exported.stderr.split('\n')[0]]).toEqual([1, 'error: cannot create the export folder /proc/x: ENOENT']);
    const report = await runCli(['simulate', path.resolve(import.meta.dirname, '../../examples/scenarios/two-way-continue.yaml'), '--reporter', 'junit', '--output', '/proc/nope/report.xml'], {
      cwd: dir,
      timeoutMs: 30_000,
    });
    expect([report.code, report.stderr]).toEqual([1, expect.stringContaining('error: cannot create the report folder /proc/nope: ENOENT')]);
  });
});
