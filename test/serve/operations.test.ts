/**
 * Operating `hookctl serve` (the built CLI): the worker logs one line per request transition
 * and per webhook call, with ids, keys, outcomes, statuses and durations but never the
 * identity, an authorization or a reply-to token; --log-level warn leaves those lines out;
 * --log-format pretty writes lines for people. /metrics counts what the worker did. API writes
 * appear in `hookctl history` as api:<client_id>.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, type Backend } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { Receiver, waitFor } from '../engine/fixtures.js';
import { HOOK_TOKEN, api, applyManifest, cliEnv, createRequests, createToken, getRequest, killAllServes, startServe, writeManifest, type ServeProcess } from './processes.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
beforeAll(async () => {
  env = await freshBackends('serve_operations');
  receiver = await Receiver.start();
});
afterEach(killAllServes);
afterAll(async () => {
  await receiver.close();
  await env.drop();
});

const ROOT = { HOOKCTL_OAUTH_ROOT_CLIENT_ID: 'ops-root-client', HOOKCTL_OAUTH_ROOT_CLIENT_SECRET: 'ops-root-secret-5d1e' };

interface LogLine {
  level: number;
  msg: string;
  component?: string;
  request_id?: string;
  webhook_key?: string;
  event?: string;
  status?: string;
  outcome?: string;
  status_code?: number | null;
  duration_ms?: number;
  callback_type?: string;
}

function workerLines(serve: ServeProcess): LogLine[] {
  return serve.output.stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.component === 'worker');
}

/** A policy whose pre-execution gate pauses the request (and captures the reply-to token), then a one-way hook on each side. */
function setUp(backend: Backend, tag: string) {
  const tokens: string[] = [];
  const hooks = {
    gate: receiver.endpoint((call) => {
      tokens.push(String(call.headers['reply-to-token']));
      return { status: 200, body: { halt: true } };
    }),
    audit: receiver.endpoint({ status: 200 }),
    done: receiver.endpoint({ status: 204 }),
  };
  const policy = `ops_${tag}`;
  const manifest = writeManifest(backend.dir, {
    [policy]: {
      pre: [
        { key: `gate_${tag}`, direction: 'two_way', url: hooks.gate },
        { key: `audit_${tag}`, direction: 'one_way', url: hooks.audit },
      ],
      post: [{ key: `done_${tag}`, direction: 'one_way', url: hooks.done }],
    },
  });
  return { tokens, policy, manifest };
}

/** Creates a request, waits for its pause, resumes it with the captured token, waits for completion. */
async function runThroughPause(serve: ServeProcess, token: string, policy: string, email: string, tokens: string[]): Promise<string> {
  const [id] = await createRequests(serve.base, token, [{ policy_key: policy, identity: { email } }]);
  await waitFor('the pause', async () => ((await getRequest(serve.base, token, id!)).status === 'paused' ? true : undefined));
  const replyToken = tokens.at(-1)!;
  const resumed = await fetch(`${serve.base}/privacy-request/${id}/resume`, { method: 'POST', headers: { authorization: `Bearer ${replyToken}` } });
  expect(resumed.status).toBe(200);
  await waitFor('completion', async () => ((await getRequest(serve.base, token, id!)).status === 'complete' ? true : undefined));
  return id!;
}

describe.each(['sqlite', 'postgres'] as const)('serve in production on %s', (backendName) => {
  it('logs each transition and webhook call without identities or secrets, and /metrics counts them', async () => {
    const backend = env.backends.find((b) => b.name === backendName)!;
    const tag = `${backendName}_logs`;
    const { tokens, policy, manifest } = setUp(backend, tag);
    await applyManifest(backend, manifest);
    const serve = await startServe(backend, ['--log-format', 'json', '--log-level', 'info']);
    const token = await createToken(backend, ['privacy-request:create', 'privacy-request:read']);
    const email = `planted-${backendName}-identity@example.com`;
    const id = await runThroughPause(serve, token, policy, email, tokens);
    // The completion is committed before its log line is written: wait for the line.
    await waitFor('the completion log line', async () => (workerLines(serve).some((l) => l.event === 'complete') ? true : undefined));

    const lines = workerLines(serve).filter((l) => l.request_id === id);
    expect(lines.filter((l) => l.event !== undefined).map((l) => [l.msg, l.event, l.status])).toEqual([
      ['privacy request started', 'started', 'in_processing'],
      ['privacy request paused', 'paused', 'paused'],
      ['privacy request continued', 'continued', 'in_processing'],
      ['privacy request complete', 'complete', 'complete'],
    ]);
    const calls = lines.filter((l) => l.webhook_key !== undefined);
    expect(calls.map((l) => [l.webhook_key, l.callback_type, l.outcome, l.status_code])).toEqual([
      [`gate_${tag}`, 'pre', 'halt', 200],
      [`audit_${tag}`, 'pre', 'continue', 200],
      [`done_${tag}`, 'post', 'continue', 204],
    ]);
    for (const call of calls) {
      expect(call.msg).toBe(`webhook call ${call.outcome}`);
      expect(call.duration_ms).toBeGreaterThanOrEqual(0);
      expect(call.level).toBe(30);
    }
    for (const secret of [email, HOOK_TOKEN, 'serve-test-hook-token', token, ...tokens]) expect(serve.output.stderr).not.toContain(secret);

    const metrics = await (await fetch(`${serve.base}/metrics`)).text();
    expect(metrics).toMatch(/^hookctl_privacy_requests_total\{status="complete"\} 1$/m);
    expect(metrics).toMatch(/^hookctl_privacy_requests_total\{status="paused"\} 1$/m);
    expect(metrics).toMatch(/^hookctl_webhook_calls_total\{outcome="halt"\} 1$/m);
    expect(metrics).toMatch(/^hookctl_webhook_calls_total\{outcome="continue"\} 2$/m);
    expect(metrics).toMatch(/^hookctl_webhook_call_duration_seconds_count 3$/m);
    expect(metrics).toMatch(/^hookctl_queue_depth 0$/m);
    for (const secret of [email, id, token, ...tokens, `gate_${tag}`]) expect(metrics).not.toContain(secret);
  });

  it('records API writes in history as api:<client_id>', async () => {
    const backend = env.backends.find((b) => b.name === backendName)!;
    const serve = await startServe(backend, [], ROOT);
    const cliToken = await createToken(backend, ['policy:create_or_update']);
    expect((await api(serve.base, cliToken, 'PATCH', '/api/v1/policy', [{ key: `by_cli_${backendName}`, name: 'made with a CLI token' }])).status).toBe(200);
    const issued = await fetch(`${serve.base}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: ROOT.HOOKCTL_OAUTH_ROOT_CLIENT_ID, client_secret: ROOT.HOOKCTL_OAUTH_ROOT_CLIENT_SECRET }).toString(),
    });
    const oauthToken = ((await issued.json()) as { access_token: string }).access_token;
    expect((await api(serve.base, oauthToken, 'PATCH', '/api/v1/policy', [{ key: `by_root_${backendName}`, name: 'made with an OAuth token' }])).status).toBe(200);

    const history = await runCli(['history', '--json'], { cwd: backend.dir, env: cliEnv(backend) });
    expect(history.code).toBe(0);
    const actors = (JSON.parse(history.stdout) as { serial: number; actor: string }[]).sort((x, y) => x.serial - y.serial).map((r) => r.actor);
    // runCli runs the CLI as USER=tester: `token create` names its creator.
    expect(actors.slice(-2)).toEqual(['api:cli:tester', 'api:ops-root-client']);
    expect(history.stdout).not.toContain(ROOT.HOOKCTL_OAUTH_ROOT_CLIENT_SECRET);
  });
});

describe('serve log options', () => {
  it('--log-level warn leaves out the worker lines of a request that goes well; --log-format pretty writes lines for people', async () => {
    const backend = env.backends.find((b) => b.name === 'sqlite')!;
    const tag = 'sqlite_options';
    const { tokens, policy, manifest } = setUp(backend, tag);
    await applyManifest(backend, manifest);
    const token = await createToken(backend, ['privacy-request:create', 'privacy-request:read']);

    const quiet = await startServe(backend, ['--log-format', 'json', '--log-level', 'warn'], {}, { servingLog: false });
    await runThroughPause(quiet, token, policy, 'quiet-identity@example.com', tokens);
    // Nothing at info, the `serving` line included: this run writes no log line at all.
    expect(quiet.output.stderr).toBe('');
    quiet.child.kill('SIGTERM');
    await quiet.exited;

    const pretty = await startServe(backend, ['--log-format', 'pretty'], {}, { servingLog: false });
    const email = 'pretty-identity@example.com';
    const id = await runThroughPause(pretty, token, policy, email, tokens);
    await waitFor('the pretty completion line', async () => (pretty.output.stderr.includes('privacy request complete') ? true : undefined));
    const lines = pretty.output.stderr.split('\n').filter((l) => l.includes(id));
    expect(lines.length).toBeGreaterThanOrEqual(7);
    for (const line of lines) expect(line.trimStart().startsWith('{')).toBe(false);
    expect(pretty.output.stderr).toMatch(/INFO.*webhook call halt/);
    for (const secret of [email, HOOK_TOKEN, token, ...tokens]) expect(pretty.output.stderr).not.toContain(secret);
  });
});
