/**
 * plan/apply/export/history against a Fides server (`--fides-url`), through the built CLI, on
 * every test target (a real `hookctl serve`, and the Fides double) behind a fault-injecting proxy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { freshBackends, TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { startFidesDouble, TARGET_STARTERS, type FidesTestTarget } from './targets.js';

const HOOK_AUTH = 'Bearer planted-authorization-7f3c9a';

/** One connection, one policy and its two lists, every key made from `id` so that tests sharing a server stay apart. */
function manifest(id: string, opts: { policyName?: string; pre?: string[]; post?: string[] } = {}): string {
  const hooks = (keys: string[]) =>
    keys.length === 0 ? ' []' : `\n${keys.map((k) => `      - { key: ${k}_${id}, name: ${k} ${id}, connection_config_key: conn_${id}, direction: one_way }`).join('\n')}`;
  return [
    'connection:',
    `  - key: conn_${id}`,
    '    name: Hooks',
    '    connection_type: https',
    '    secrets:',
    '      url: https://hooks.example.com/privacy',
    '      authorization: { env: HOOK_AUTH }',
    'policy:',
    `  - key: ${id}`,
    `    name: ${opts.policyName ?? `GitOps policy ${id}`}`,
    `    pre_execution_webhooks:${hooks(opts.pre ?? ['wake_up', 'check_id'])}`,
    `    post_execution_webhooks:${hooks(opts.post ?? ['notify'])}`,
    '',
  ].join('\n');
}

const WRITES = new Set(['PUT', 'PATCH', 'DELETE', 'POST']);
const writesIn = (calls: { method: string; path: string; status: number }[]) => calls.filter((c) => WRITES.has(c.method) && c.path !== '/api/v1/oauth/token');

describe.each(TARGET_STARTERS)('Fides target: $name', ({ start }) => {
  let target: FidesTestTarget;
  let work: string;

  beforeAll(async () => {
    target = await start();
  });
  afterAll(async () => {
    await target?.close();
  });

  /** A fresh working folder (so fresh bookkeeping) with the manifest of `id`. */
  function fresh(id: string, opts: Parameters<typeof manifest>[1] = {}): string {
    work = fs.mkdtempSync(path.join(os.tmpdir(), `hookctl-fides-${id}-`));
    fs.writeFileSync(path.join(work, 'hooks.yaml'), manifest(id, opts));
    return work;
  }
  afterEach(() => target.resetCalls());

  function env(extra: Record<string, string> = {}): Record<string, string> {
    return { HOOK_AUTH, HOOKCTL_FIDES_CLIENT_ID: target.clientId, HOOKCTL_FIDES_CLIENT_SECRET: target.clientSecret, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, ...extra };
  }
  const hookctl = (args: string[], extra: Record<string, string> = {}, cwd = work): Promise<CliResult> =>
    runCli([...args, '--fides-url', target.url], { cwd, env: env(extra) });

  it('applies, then plans and applies nothing: a no-op apply makes no write call', async () => {
    fresh('p_basic');
    const first = await hookctl(['apply', '--auto-approve', 'hooks.yaml']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/done\s+PUT \/api\/v1\/connection\/conn_p_basic\/secret/);
    expect(first.stdout).toMatch(/Apply complete! 5 added/);

    const plan = await hookctl(['plan', '--detailed-exitcode', 'hooks.yaml']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('No changes.');

    target.resetCalls();
    const again = await hookctl(['apply', '--auto-approve', 'hooks.yaml']);
    expect(again.code).toBe(0);
    expect(writesIn(target.calls())).toEqual([]);

    const history = await hookctl(['history', '--json']);
    const revisions = JSON.parse(history.stdout) as { serial: number; partial: boolean; summary: { add: number } }[];
    expect(revisions).toHaveLength(1);
    expect(revisions[0]).toMatchObject({ serial: 1, partial: false, summary: { add: 5 } });
  });

  it('a list change is one PUT of that list, and a change made through the API is labelled as drift', async () => {
    fresh('p_drift');
    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);
    // Someone reorders the list through the API.
    const token = await apiToken(target);
    const put = await fetch(`${target.url}/api/v1/dsr/policy/p_drift/webhook/pre_execution`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        { key: 'check_id_p_drift', name: 'check_id p_drift', connection_config_key: 'conn_p_drift', direction: 'one_way' },
        { key: 'wake_up_p_drift', name: 'wake_up p_drift', connection_config_key: 'conn_p_drift', direction: 'one_way' },
      ]),
    });
    expect(put.status).toBe(200);
    const plan = await hookctl(['plan', 'hooks.yaml', '--json']);
    const doc = JSON.parse(plan.stdout) as { changes: { kind: string; action: string; drift?: boolean }[] };
    expect(doc.changes.filter((c) => c.kind === 'webhook').every((c) => c.action === 'move' && c.drift === true)).toBe(true);
    const text = await hookctl(['plan', 'hooks.yaml']);
    expect(text.stdout).toContain('(changed outside hookctl)');
    target.resetCalls();
    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);
    expect(writesIn(target.calls())).toEqual([{ method: 'PUT', path: '/api/v1/dsr/policy/p_drift/webhook/pre_execution', status: 200 }]);
  });

  it('a 500 mid-apply stops it with a step report and a partial revision; the next plan shows what remains and apply converges', async () => {
    fresh('p_partial');
    target.fail({ method: 'PUT', path: '/api/v1/dsr/policy/p_partial/webhook/pre_execution', status: 500, body: '{"detail":"database on fire"}' });
    const res = await hookctl(['apply', '--auto-approve', 'hooks.yaml']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/done\s+PATCH \/api\/v1\/dsr\/policy/);
    expect(res.stdout).toMatch(/failed\s+PUT \/api\/v1\/dsr\/policy\/p_partial\/webhook\/pre_execution .*500: database on fire/);
    expect(res.stdout).toMatch(/not attempted\s+PUT \/api\/v1\/dsr\/policy\/p_partial\/webhook\/post_execution/);
    expect(res.stderr).toMatch(/^error: apply to .* stopped at PUT .*database on fire.*partial revision 1\n/);
    // The 500 is final: the PUT was sent once.
    expect(target.calls().filter((c) => c.method === 'PUT' && c.path.endsWith('/pre_execution'))).toHaveLength(1);

    const history = JSON.parse((await hookctl(['history', '--json'])).stdout) as { partial: boolean }[];
    expect(history[0]!.partial).toBe(true);
    expect((await hookctl(['history'])).stdout).toContain('partial');

    const plan = JSON.parse((await hookctl(['plan', 'hooks.yaml', '--json'])).stdout) as { changes: { kind: string; action: string }[] };
    expect(plan.changes.map((c) => `${c.kind}:${c.action}`).sort()).toEqual(['webhook:create', 'webhook:create', 'webhook:create']);

    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);
    expect((await hookctl(['plan', '--detailed-exitcode', 'hooks.yaml'])).code).toBe(0);
  });

  it('a webhook key moving between lists, and a key renamed under the same name, apply in an order the server accepts', async () => {
    const yaml = (aPre: string[], bPre: string[], aPost: string) =>
      [
        'connection:',
        '  - { key: conn_p_order, name: Hooks, connection_type: https, secrets: { url: "https://hooks.example.com/privacy", authorization: { env: HOOK_AUTH } } }',
        'policy:',
        '  - key: p_order_a',
        '    name: Order A',
        `    pre_execution_webhooks: [${aPre.map((k) => `{ key: ${k}, name: ${k} name, connection_config_key: conn_p_order, direction: one_way }`).join(', ')}]`,
        `    post_execution_webhooks: [{ key: ${aPost}, name: the audit hook, connection_config_key: conn_p_order, direction: one_way }]`,
        '  - key: p_order_b',
        '    name: Order B',
        `    pre_execution_webhooks: [${bPre.map((k) => `{ key: ${k}, name: ${k} name, connection_config_key: conn_p_order, direction: one_way }`).join(', ')}]`,
        '',
      ].join('\n');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-fides-order-'));
    fs.writeFileSync(path.join(work, 'hooks.yaml'), yaml(['ord_x', 'ord_y'], ['ord_z'], 'ord_audit_1'));
    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);

    fs.writeFileSync(path.join(work, 'hooks.yaml'), yaml(['ord_y'], ['ord_z', 'ord_x'], 'ord_audit_2'));
    target.resetCalls();
    const res = await hookctl(['apply', '--auto-approve', 'hooks.yaml']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const puts = writesIn(target.calls()).map((c) => `${c.method} ${c.path} ${c.status}`);
    expect(puts).toEqual([
      'PUT /api/v1/dsr/policy/p_order_a/webhook/pre_execution 200',
      'PUT /api/v1/dsr/policy/p_order_b/webhook/pre_execution 200',
      'PUT /api/v1/dsr/policy/p_order_a/webhook/post_execution 200',
      'PUT /api/v1/dsr/policy/p_order_a/webhook/post_execution 200',
    ]);
    expect((await hookctl(['plan', '--detailed-exitcode', 'hooks.yaml'])).code).toBe(0);
  });

  it('a server whose /health has no version is fidesops 1.x: policy paths under /api/v1/policy, and the plan says it cannot delete policies', async () => {
    // serve answers under both prefixes, so its /health is made to say fidesops; the double of a
    // 2.x server has no fidesops paths, so that target gets a fidesops double of its own.
    const ops = target.name === 'double' ? await startFidesDouble({ version: null }) : target;
    const opsCli = (args: string[]) =>
      runCli([...args, '--fides-url', ops.url], { cwd: work, env: env({ HOOKCTL_FIDES_CLIENT_ID: ops.clientId, HOOKCTL_FIDES_CLIENT_SECRET: ops.clientSecret }) });
    try {
      fresh('p_ops');
      fs.writeFileSync(path.join(work, 'gone.yaml'), 'policy:\n  - key: p_ops_gone\n    name: Ops gone\n');
      if (ops === target) target.fail({ method: 'GET', path: '/health', status: 200, body: '{"webserver":"healthy","database":"healthy","cache":"healthy"}', times: 1 });
      expect((await opsCli(['apply', '--auto-approve', '.'])).code).toBe(0);
      fs.rmSync(path.join(work, 'gone.yaml'));
      ops.resetCalls();
      if (ops === target) target.fail({ method: 'GET', path: '/health', status: 200, body: '{"webserver":"healthy","database":"healthy","cache":"healthy"}', times: 1 });
      const plan = await opsCli(['plan', '--prune', '.']);
      expect(plan.code).toBe(0);
      expect(plan.stderr).toContain('runs fidesops, which cannot delete policies (DELETE came in 2.80): p_ops_gone will be emptied and kept');
      const paths = ops.calls().map((c) => c.path);
      expect(paths).toContain('/api/v1/policy');
      expect(paths).toContain('/api/v1/policy/p_ops/webhook/pre_execution');
      expect(paths.some((p) => p.startsWith('/api/v1/dsr/'))).toBe(false);
    } finally {
      if (ops !== target) await ops.close();
    }
  });

  it('a failed item inside a 200 is a failure', async () => {
    fresh('p_failed_item');
    target.fail({ method: 'PATCH', path: '/api/v1/dsr/policy', status: 200, body: '{"succeeded":[],"failed":[{"message":"Policy name already in use","data":{}}]}' });
    const res = await hookctl(['apply', '--auto-approve', 'hooks.yaml']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/failed\s+PATCH \/api\/v1\/dsr\/policy .*Policy name already in use/);
    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);
  });

  it('retries 503 and a reset before any answer, never a 500', async () => {
    fresh('p_retry');
    target.fail({ method: 'GET', path: '/api/v1/connection', status: 503, times: 2 });
    target.fail({ method: 'GET', path: '/api/v1/dsr/policy', reset: true, times: 1 });
    const res = await hookctl(['plan', 'hooks.yaml']);
    expect(res.code).toBe(0);
    expect(target.calls().filter((c) => c.method === 'GET' && c.path === '/api/v1/connection').map((c) => c.status)).toEqual([503, 503, 200]);
    expect(target.calls().filter((c) => c.method === 'GET' && c.path === '/api/v1/dsr/policy').map((c) => c.status)).toEqual([0, 200]);

    target.resetCalls();
    target.fail({ method: 'PUT', path: '/api/v1/connection/conn_p_retry/secret', status: 500 });
    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(1);
    expect(target.calls().filter((c) => c.method === 'PUT' && c.path === '/api/v1/connection/conn_p_retry/secret')).toHaveLength(1);
  });

  it('wrong credentials: exit 1, one line naming the server and the refusal, with the scopes needed', async () => {
    fresh('p_creds');
    const res = await hookctl(['plan', 'hooks.yaml'], { HOOKCTL_FIDES_CLIENT_SECRET: 'not-the-secret-4411' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`error: the Fides server ${target.url} refused the credentials`);
    expect(res.stderr).toContain('webhook:create_or_update');
    expect(res.stderr).not.toContain('not-the-secret-4411');
  });

  it('missing scope: every call refused even with a new token → exit 1 naming the scopes', async () => {
    fresh('p_scope');
    target.fail({ method: 'GET', path: '/api/v1/connection', status: 403, body: '{"detail":"Not Authorized for this action. Required scope(s): [connection:read]"}', times: 2 });
    const res = await hookctl(['plan', 'hooks.yaml']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refused the credentials \(GET \/api\/v1\/connection: 403 Not Authorized for this action\. Required scope\(s\): \[connection:read\]\)/);
    expect(res.stderr).toContain('connection:read');
  });

  it('an expired token (403) gets one new token and the call is tried again', async () => {
    fresh('p_expired');
    target.fail({ method: 'GET', path: '/api/v1/connection', status: 403, body: '{"detail":"Not Authorized for this action"}', times: 1 });
    const res = await hookctl(['plan', 'hooks.yaml']);
    expect(res.code).toBe(0);
    expect(target.calls().filter((c) => c.path === '/api/v1/oauth/token')).toHaveLength(2);
  });

  it('an unreachable server, a TLS failure and a timeout: exit 1 naming the server and the cause', async () => {
    fresh('p_network');
    const closed = await runCli(['plan', 'hooks.yaml', '--fides-url', 'http://127.0.0.1:9'], { cwd: work, env: env() });
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:9 \(GET \/health\)/);

    const tls = await runCli(['plan', 'hooks.yaml', '--fides-url', target.url.replace('http:', 'https:')], { cwd: work, env: env() });
    expect(tls.code).toBe(1);
    expect(tls.stderr).toMatch(/^error: TLS with https:\/\/127\.0\.0\.1:\d+ failed/);

    target.fail({ method: 'GET', path: '/api/v1/connection', delayMs: 3_000 });
    const slow = await hookctl(['plan', 'hooks.yaml', '--fides-timeout', '500ms']);
    expect(slow.code).toBe(1);
    expect(slow.stderr).toContain(`error: ${target.url} did not answer GET /api/v1/connection within 0.5s`);
  });

  it('an HTML answer or a body of the wrong shape is an error naming the endpoint', async () => {
    fresh('p_shape');
    target.fail({ method: 'GET', path: '/api/v1/dsr/policy', status: 200, contentType: 'text/html', body: '<html><body>Sign in</body></html>' });
    const html = await hookctl(['plan', 'hooks.yaml']);
    expect(html.code).toBe(1);
    expect(html.stderr).toMatch(/^error: unexpected answer from .* to GET \/api\/v1\/dsr\/policy: a text\/html answer, not JSON/);

    target.fail({ method: 'GET', path: '/api/v1/connection', status: 200, body: '{"items":"nope","total":1,"page":1,"size":100}' });
    const shape = await hookctl(['plan', 'hooks.yaml']);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toMatch(/^error: unexpected answer from .* to GET \/api\/v1\/connection: a body of the wrong shape/);
    expect(shape.stderr).not.toMatch(/\n\s+at /);
  });

  it('URL rules: a non-loopback http:// URL (0.0.0.0 included) is a usage error before any request', async () => {
    fresh('p_url');
    for (const url of ['http://fides.example.com', 'http://0.0.0.0:8080']) {
      const res = await runCli(['plan', 'hooks.yaml', '--fides-url', url], { cwd: work, env: env() });
      expect(res.code).toBe(64);
      expect(res.stderr).toContain('--fides-url');
    }
  });

  it('a saved plan is bound to its target and the live resources it changes (exit 6)', async () => {
    fresh('p_saved');
    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);
    fs.writeFileSync(path.join(work, 'hooks.yaml'), manifest('p_saved', { policyName: 'Renamed in git' }));
    expect((await hookctl(['plan', 'hooks.yaml', '--out', 'plan.json'])).code).toBe(0);
    const other = await runCli(['apply', '--plan', 'plan.json', '--fides-url', target.url.replace('127.0.0.1', 'localhost')], { cwd: work, env: env() });
    expect(other.code).toBe(6);
    expect(other.stderr).toContain(`saved plan was made against ${target.url}, not`);
    const local = await runCli(['apply', '--plan', 'plan.json'], { cwd: work, env: env() });
    expect(local.code).toBe(6);
    expect(local.stderr).toContain(`saved plan was made against the Fides server ${target.url}`);

    // The policy is renamed on the server meanwhile.
    const token = await apiToken(target);
    const patch = await fetch(`${target.url}/api/v1/dsr/policy`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ key: 'p_saved', name: 'Renamed by hand' }]),
    });
    expect(patch.status).toBe(200);
    const stale = await hookctl(['apply', '--plan', 'plan.json']);
    expect(stale.code).toBe(6);
    expect(stale.stderr).toContain('changed on');
    expect(stale.stderr).toContain('policy/p_saved');

    expect((await hookctl(['plan', 'hooks.yaml', '--out', 'plan.json'])).code).toBe(0);
    const applied = await hookctl(['apply', '--plan', 'plan.json']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Apply complete! 0 added, 1 changed');
  });

  it('a policy the server refuses to delete (409) is kept, not a failure, and is no longer managed', async () => {
    const dir = fresh('p_prune');
    fs.writeFileSync(path.join(dir, 'extra.yaml'), 'policy:\n  - key: p_prune_gone\n    name: To be pruned\n    pre_execution_webhooks: []\n');
    expect((await hookctl(['apply', '--auto-approve', '.'])).code).toBe(0);
    fs.rmSync(path.join(dir, 'extra.yaml'));
    target.fail({ method: 'DELETE', path: '/api/v1/dsr/policy/p_prune_gone', status: 409, body: '{"detail":"Cannot delete policy p_prune_gone: it is referenced by one or more privacy requests."}' });
    const res = await hookctl(['apply', '--auto-approve', '--prune', '.']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/kept\s+DELETE \/api\/v1\/dsr\/policy\/p_prune_gone: 409: Cannot delete policy/);
    const plan = JSON.parse((await hookctl(['plan', '--prune', '--json', '.'])).stdout) as { changes: unknown[]; unmanaged: { key: string; pruned: boolean }[] };
    expect(plan.changes).toEqual([]);
    expect(plan.unmanaged).toContainEqual(expect.objectContaining({ key: 'p_prune_gone', pruned: false }));
  });

  it('export, then plan with its variables set and no recorded fingerprints, plans only the secrets', async () => {
    fresh('p_export');
    expect((await hookctl(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);
    const exported = await hookctl(['export', '--out', 'exported']);
    expect(exported.code).toBe(0);
    const fresher = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-fides-export-'));
    fs.cpSync(path.join(work, 'exported'), fresher, { recursive: true });
    const yaml = fs.readFileSync(path.join(fresher, 'hookctl-export.yaml'), 'utf8');
    const vars = Object.fromEntries([...yaml.matchAll(/#\s+(HOOKCTL_SECRET_\w+)/g)].map((m) => [m[1]!, m[1]!.endsWith('_URL') ? 'https://hooks.example.com/privacy' : HOOK_AUTH]));
    const plan = await runCli(['plan', '--json', '.', '--fides-url', target.url], { cwd: fresher, env: env(vars) });
    expect(plan.code).toBe(0);
    const doc = JSON.parse(plan.stdout) as { changes: { kind: string; action: string; fields: { field: string }[] }[] };
    expect(doc.changes.length).toBeGreaterThan(0);
    for (const c of doc.changes) {
      expect(c.kind).toBe('connection');
      expect(c.fields.every((f) => f.field.startsWith('secrets.'))).toBe(true);
    }
  });
});

describe.each(TARGET_STARTERS)('Fides target, on both bookkeeping backends: $name', ({ start }) => {
  let target: FidesTestTarget;
  let dbs: Awaited<ReturnType<typeof freshBackends>>;
  beforeAll(async () => {
    target = await start();
    dbs = await freshBackends('fides-bookkeeping');
  });
  afterAll(async () => {
    await target?.close();
    await dbs?.drop();
  });

  const env = (backend: Backend, extra: Record<string, string> = {}) => ({
    HOOK_AUTH,
    HOOKCTL_FIDES_CLIENT_ID: target.clientId,
    HOOKCTL_FIDES_CLIENT_SECRET: target.clientSecret,
    HOOKCTL_MASTER_KEY: TEST_MASTER_KEY,
    HOOKCTL_DATABASE_URL: backend.url,
    ...extra,
  });

  it.each(['sqlite', 'postgres'] as const)('concurrent applies from two processes sharing %s bookkeeping are serialized', async (kind) => {
    const backend = dbs.backends.find((b) => b.name === kind)!;
    // The state exists before the trials: this test is about applies, not about opening a new state.
    expect((await runCli(['token', 'create', '--scopes', 'webhook:read'], { cwd: backend.dir, env: env(backend) })).code).toBe(0);
    for (let trial = 0; trial < 6; trial++) {
      fs.writeFileSync(path.join(backend.dir, 'hooks.yaml'), manifest(`p_conc_${kind}_${trial}`));
      target.resetCalls();
      const run = () => runCli(['apply', '--auto-approve', 'hooks.yaml', '--fides-url', target.url], { cwd: backend.dir, env: env(backend) });
      const [a, b] = await Promise.all([run(), run()]);
      expect([a.code, b.code], `${a.stderr}${b.stderr}`).toEqual([0, 0]);
      // The second saw the first's work: the policy was created exactly once.
      const patches = target.calls().filter((c) => c.method === 'PATCH' && c.path === '/api/v1/dsr/policy');
      expect(patches).toHaveLength(1);
      expect([a.stdout, b.stdout].filter((o) => o.includes('No changes.'))).toHaveLength(1);
    }
  }, 120_000);

  it.each(['sqlite', 'postgres'] as const)('secret scan on %s: no planted secret or token in any output, file or the bookkeeping', async (kind) => {
    const backend = dbs.backends.find((b) => b.name === kind)!;
    const dir = fs.mkdtempSync(path.join(backend.dir, 'scan-'));
    fs.writeFileSync(path.join(dir, 'hooks.yaml'), manifest(`p_scan_${kind}`));
    const token = await apiToken(target);
    const outputs: string[] = [];
    const run = async (args: string[], extra: Record<string, string> = {}) => {
      const res = await runCli([...args, '--fides-url', target.url], { cwd: dir, env: env(backend, extra) });
      outputs.push(res.stdout, res.stderr);
      return res;
    };
    await run(['plan', 'hooks.yaml', '--out', 'plan.json']);
    await run(['plan', 'hooks.yaml', '--json']);
    expect((await run(['apply', '--auto-approve', 'hooks.yaml'])).code).toBe(0);
    target.fail({ method: 'PUT', path: `/api/v1/connection/conn_p_scan_${kind}/secret`, status: 500 });
    await run(['apply', '--auto-approve', 'hooks.yaml'], { HOOK_AUTH: `${HOOK_AUTH}-rotated` });
    await run(['apply', '--auto-approve', 'hooks.yaml'], { HOOKCTL_FIDES_CLIENT_ID: '', HOOKCTL_FIDES_CLIENT_SECRET: '', HOOKCTL_FIDES_TOKEN: token });
    await run(['plan', 'hooks.yaml'], { HOOKCTL_FIDES_CLIENT_SECRET: `${target.clientSecret}-wrong` });
    await run(['export', '--out', 'exported']);
    await run(['history', '--json']);
    await run(['history']);
    const files = [path.join(dir, 'plan.json'), path.join(dir, 'exported', 'hookctl-export.yaml')].map((f) => fs.readFileSync(f, 'utf8'));
    let database: string;
    if (kind === 'sqlite') {
      database = fs.readFileSync(backend.url.slice('sqlite:'.length)).toString('latin1');
    } else {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: backend.url });
      await client.connect();
      const rows = await Promise.all(['fides_resources', 'fides_revisions', 'hookctl_meta'].map((t) => client.query(`SELECT * FROM ${t}`)));
      await client.end();
      database = JSON.stringify(rows.map((r) => r.rows));
    }
    const haystack = [...outputs, ...files, database].join('\n');
    expect(haystack).toContain(`conn_p_scan_${kind}`); // the scan sees real content
    for (const planted of [HOOK_AUTH, 'planted-authorization-7f3c9a', target.clientSecret, token]) expect(haystack).not.toContain(planted);
  }, 120_000);
});

/** A token for direct API calls (the setup a test does by hand on the server). */
async function apiToken(target: FidesTestTarget): Promise<string> {
  const res = await fetch(`${target.url}/api/v1/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: target.clientId, client_secret: target.clientSecret, grant_type: 'client_credentials' }).toString(),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}
