/**
 * `serve --public-url`: where clients reach the server (behind a proxy, possibly under a path).
 * The startup line says it, and request views give `resume_endpoint` as an absolute URL under
 * it that names a route the server really serves; the `reply-to` header stays the relative
 * path the contract fixes. Built CLI, real processes, SQLite and PostgreSQL.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, type Backend } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { Receiver, waitFor } from '../engine/fixtures.js';
import { api, applyManifest, cliEnv, createRequests, createToken, getRequest, killAllServes, startServe, writeManifest, type RequestView } from './processes.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
beforeAll(async () => {
  env = await freshBackends('serve_public_url');
  receiver = await Receiver.start();
});
afterEach(killAllServes);
afterAll(async () => {
  await receiver.close();
  await env.drop();
});

const PUBLIC_URL = 'https://privacy.example.com/hookctl';

describe.each(['sqlite', 'postgres'] as const)('serve --public-url on %s', (backendName) => {
  it('gives resume_endpoint as an absolute URL under it, while reply-to stays relative', async () => {
    const backend: Backend = env.backends.find((b) => b.name === backendName)!;
    const tag = backendName;
    const halting = receiver.endpoint({ status: 200, body: { halt: true } });
    const failing = receiver.endpoint([{ status: 500 }, { status: 200 }]);
    const manifest = writeManifest(backend.dir, {
      [`halting_${tag}`]: { pre: [{ key: `halting_${tag}`, direction: 'two_way', url: halting }] },
      [`failing_${tag}`]: { pre: [{ key: `failing_${tag}`, direction: 'two_way', url: failing }] },
    });
    await applyManifest(backend, manifest);
    const token = await createToken(backend, ['privacy-request:create', 'privacy-request:read', 'privacy-request:resume']);

    // A trailing slash is not part of the base.
    const serve = await startServe(backend, ['--public-url', `${PUBLIC_URL}/`]);
    expect(serve.line).toMatch(new RegExp(`^hookctl serve listening on http://127\\.0\\.0\\.1:\\d+ \\(state: \\S+\\), public URL ${PUBLIC_URL}$`));
    /** What the proxy at PUBLIC_URL would do: forward to this process. */
    const viaProxy = (endpoint: string) => {
      expect(endpoint.startsWith(`${PUBLIC_URL}/`)).toBe(true);
      return endpoint.slice(PUBLIC_URL.length);
    };

    const [pausedId, failedId] = [
      ...(await createRequests(serve.base, token, [{ policy_key: `halting_${tag}`, identity: { email: 'paused@example.com' } }])),
      ...(await createRequests(serve.base, token, [{ policy_key: `failing_${tag}`, identity: { email: 'failed@example.com' } }])),
    ];
    const settled = (id: string, status: string) =>
      waitFor(`${id} to be ${status}`, async () => {
        const view = await getRequest(serve.base, token, id);
        return view.status === status ? view : undefined;
      });

    const paused = await settled(pausedId!, 'paused');
    expect(paused.resume_endpoint).toBe(`${PUBLIC_URL}/api/v1/privacy-request/${pausedId}/resume`);
    const listed = await api<{ items: RequestView[] }>(serve.base, token, 'GET', `/api/v1/privacy-request?id=${pausedId}`);
    expect(listed.body.items.map((v) => v.resume_endpoint)).toEqual([paused.resume_endpoint]);
    const haltCall = receiver.callsTo(halting)[0]!;
    expect(haltCall.headers['reply-to']).toBe(`/privacy-request/${pausedId}/resume`);

    const resumed = await api<RequestView>(serve.base, haltCall.headers['reply-to-token'] as string, 'POST', viaProxy(paused.resume_endpoint!), {});
    expect(resumed.status).toBe(200);
    expect(resumed.body.resume_endpoint).toBeNull();
    await settled(pausedId!, 'complete');

    const failed = await settled(failedId!, 'error');
    expect(failed.resume_endpoint).toBe(`${PUBLIC_URL}/api/v1/privacy-request/${failedId}/retry`);
    const retried = await api<RequestView>(serve.base, token, 'POST', viaProxy(failed.resume_endpoint!));
    expect(retried.status).toBe(200);
    await settled(failedId!, 'complete');
  });

  it('exits 64 for a --public-url that is not an http(s) base URL', async () => {
    const backend: Backend = env.backends.find((b) => b.name === backendName)!;
    for (const bad of ['privacy.example.com', 'ftp://privacy.example.com', 'https://privacy.example.com/?tenant=1']) {
      const res = await runCli(['serve', '--port', '0', '--public-url', bad], { cwd: backend.dir, env: cliEnv(backend) });
      expect(res.code).toBe(64);
      expect(res.stderr).toContain(`error: --public-url '${bad}' is not an http(s) base URL`);
    }
  });
});
