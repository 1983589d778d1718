/**
 * Privacy requests end to end over real HTTP: create through the API, the engine's worker calls
 * real webhook endpoints on 127.0.0.1, a two-way webhook halts, its reply-to path resumes the
 * request (with and without the /api/v1 prefix), and the request completes with its timeline.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshBackends } from '../helpers/backends.js';
import { Worker } from '../../src/engine/worker.js';
import { issueReplyToken } from '../../src/engine/reply-token.js';
import { expectStatus, resetState, startServer, type TestServer } from './api.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('server_privacy_requests');
});
afterAll(async () => env.drop());

const HOOK_AUTHORIZATION = 'Bearer hook-secret-authorization-42';

interface ReceivedCall {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: { privacy_request_id: string; direction: string; callback_type: string; identity: Record<string, string | null> };
}

/** Webhook endpoints on 127.0.0.1: each path answers what `responses` says (default 200 {}). */
async function startHookServer() {
  const calls: ReceivedCall[] = [];
  const responses = new Map<string, { status: number; body: unknown }>();
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      calls.push({ path: req.url!, headers: req.headers, body: JSON.parse(text) as ReceivedCall['body'] });
      const answer = responses.get(req.url!) ?? { status: 200, body: {} };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, calls, responses, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

interface RequestBody {
  id: string;
  status: string;
  identity: Record<string, string | null>;
  resume_endpoint: string | null;
  failure_reason: string | null;
  timeline: { webhook_key: string | null; callback_type: string | null; outcome: string }[];
}

describe.each(['sqlite', 'postgres'] as const)('privacy requests on %s', (backendName) => {
  let s: TestServer;
  let hooks: Awaited<ReturnType<typeof startHookServer>>;
  let worker: Worker;

  beforeAll(async () => {
    s = await startServer(env.backends.find((b) => b.name === backendName)!);
    hooks = await startHookServer();
    worker = new Worker(s.db, s.keys, { pollMs: 20, webhookTimeoutMs: 2_000 });
    worker.start();
  });
  afterAll(async () => {
    await worker.stop();
    await hooks.close();
    for (const body of s.seenBodies) expect(body).not.toContain(HOOK_AUTHORIZATION);
    await s.close();
  });
  beforeEach(async () => {
    await resetState(s.db);
    hooks.calls.length = 0;
    hooks.responses.clear();
    expectStatus(await s.request('PATCH', '/api/v1/connection', { body: [{ key: 'hooks', name: 'Hook server', connection_type: 'https' }] }), 200);
    expectStatus(await s.request('PUT', '/api/v1/connection/hooks/secret', { body: { url: `${hooks.base}/identity`, authorization: HOOK_AUTHORIZATION } }), 200);
    expectStatus(await s.request('PATCH', '/api/v1/connection', { body: [{ key: 'cache', name: 'Cache', connection_type: 'https' }] }), 200);
    expectStatus(await s.request('PUT', '/api/v1/connection/cache/secret', { body: { url: `${hooks.base}/cache`, authorization: HOOK_AUTHORIZATION } }), 200);
    expectStatus(await s.request('PATCH', '/api/v1/policy', { body: [{ key: 'access', name: 'Access' }] }), 200);
    expectStatus(
      await s.request('PUT', '/api/v1/policy/access/webhook/pre_execution', {
        body: [{ key: 'identity', name: 'Identity', connection_config_key: 'hooks', direction: 'two_way' }],
      }),
      200,
    );
    expectStatus(
      await s.request('PUT', '/api/v1/policy/access/webhook/post_execution', {
        body: [{ key: 'cache_bust', name: 'Cache bust', connection_config_key: 'cache', direction: 'one_way' }],
      }),
      200,
    );
  });

  async function create(identity: Record<string, string>): Promise<string> {
    const res = expectStatus(await s.request('POST', '/api/v1/privacy-request', { body: [{ policy_key: 'access', identity }] }), 200);
    const body = res.body as { succeeded: { id: string; status: string }[]; failed: unknown[] };
    expect(body.failed).toEqual([]);
    expect(body.succeeded[0]!.id).toMatch(/^pri_[0-9a-f-]{36}$/);
    return body.succeeded[0]!.id;
  }

  async function waitForStatus(id: string, status: string): Promise<RequestBody> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await s.request('GET', `/api/v1/privacy-request/${id}`, { token: await s.token(['privacy-request:read']) });
      const body = res.body as RequestBody;
      if (body.status === status) return body;
      if (Date.now() > deadline) throw new Error(`request ${id} is ${body.status}, not ${status}: ${res.text}`);
      await sleep(20);
    }
  }

  it('runs without a halt: complete, with its timeline, both webhooks called with the stored secrets', async () => {
    const id = await create({ email: 'customer-1@example.com' });
    const done = await waitForStatus(id, 'complete');
    expect(done.timeline.map((t) => [t.webhook_key, t.callback_type, t.outcome])).toEqual([
      ['identity', 'pre', 'continue'],
      [null, 'execute', 'executed'],
      ['cache_bust', 'post', 'continue'],
    ]);
    expect(hooks.calls.map((c) => [c.path, c.headers.authorization, c.body.callback_type])).toEqual([
      ['/identity', HOOK_AUTHORIZATION, 'pre'],
      ['/cache', HOOK_AUTHORIZATION, 'post'],
    ]);
  });

  for (const prefix of ['', '/api/v1']) {
    it(`halts on a two-way webhook and resumes through ${prefix || 'the reply-to path'}${prefix ? '/privacy-request/{id}/resume' : ''}`, async () => {
      hooks.responses.set('/identity', { status: 200, body: { halt: true } });
      const id = await create({ email: 'customer-1@example.com' });
      const paused = await waitForStatus(id, 'paused');
      expect(paused.resume_endpoint).toBe(`/privacy-request/${id}/resume`);
      const call = hooks.calls.find((c) => c.path === '/identity')!;
      const replyTo = String(call.headers['reply-to']);
      const token = String(call.headers['reply-to-token']);
      expect(replyTo).toBe(`/privacy-request/${id}/resume`);

      const noBearer = await s.request('POST', `${prefix}${replyTo}`, { token: null, body: {} });
      expect([noBearer.status, noBearer.body]).toEqual([401, { detail: 'Failed to authenticate' }]);
      const apiToken = await s.request('POST', `${prefix}${replyTo}`, { token: await s.token(), body: {} });
      expect([apiToken.status, apiToken.body]).toEqual([403, { detail: 'Not Authorized for this action' }]);
      const badBody = await s.request('POST', `${prefix}${replyTo}`, { token, body: { derived_identity: { shoe_size: '42' } } });
      expect(badBody.status).toBe(422);
      const webhookId = ((await s.db.knex('webhooks').where({ key: 'identity' }).first('id')) as { id: string }).id;
      const subject = { webhookId, privacyRequestId: id };
      const expired = await issueReplyToken(s.keys.replyToken, subject, 1, new Date(Date.now() - 120_000));
      const expiredRes = await s.request('POST', `${prefix}${replyTo}`, { token: expired.token, body: {} });
      expect([expiredRes.status, expiredRes.body]).toEqual([403, { detail: 'Webhook token expired' }]);
      const otherRequest = await issueReplyToken(s.keys.replyToken, { ...subject, privacyRequestId: 'pri_other' }, 60);
      expect((await s.request('POST', `${prefix}${replyTo}`, { token: otherRequest.token, body: {} })).status).toBe(403);
      // The token is checked before the body, even one that is not JSON: 403 with a foreign token, 422 with the right one.
      const garbled = { rawBody: '{bad', headers: { 'content-type': 'application/json' } };
      expect((await s.request('POST', `${prefix}${replyTo}`, { token: otherRequest.token, ...garbled })).status).toBe(403);
      expect((await s.request('POST', `${prefix}${replyTo}`, { token, ...garbled })).status).toBe(422);

      const resumed = await s.request('POST', `${prefix}${replyTo}`, { token, body: { derived_identity: { phone_number: '+15555550100' } } });
      expect(resumed.status).toBe(200);
      expect((resumed.body as RequestBody).status).toBe('in_processing');
      const done = await waitForStatus(id, 'complete');
      expect(done.identity).toEqual({ email: 'customer-1@example.com', phone_number: '+15555550100' });
      expect(hooks.calls.find((c) => c.path === '/cache')!.body.identity).toEqual({ email: 'customer-1@example.com', phone_number: '+15555550100' });

      const replay = await s.request('POST', `${prefix}${replyTo}`, { token, body: {} });
      expect([replay.status, replay.body]).toEqual([400, { detail: `Invalid resume request: privacy request '${id}' status = complete.` }]);
    });
  }

  it('lists requests with id and status filters and pagination', async () => {
    hooks.responses.set('/identity', { status: 200, body: { halt: true } });
    const paused = await create({ email: 'a@example.com' });
    await waitForStatus(paused, 'paused');
    hooks.responses.clear();
    const complete = await create({ phone_number: '+15555550101' });
    await waitForStatus(complete, 'complete');

    const all = (await s.request('GET', '/api/v1/privacy-request')).body as { items: RequestBody[]; total: number; page: number; size: number };
    expect([all.total, all.page, all.size]).toEqual([2, 1, 50]);
    expect(all.items.map((r) => r.id)).toEqual([complete, paused]);
    const byStatus = (await s.request('GET', '/api/v1/privacy-request?status=paused')).body as { items: RequestBody[] };
    expect(byStatus.items.map((r) => r.id)).toEqual([paused]);
    const byId = (await s.request('GET', `/api/v1/privacy-request?id=${complete}`)).body as { items: RequestBody[] };
    expect(byId.items.map((r) => r.id)).toEqual([complete]);
    const paged = (await s.request('GET', '/api/v1/privacy-request?size=1&page=2')).body as { items: RequestBody[] };
    expect(paged.items.map((r) => r.id)).toEqual([paused]);
    expect((await s.request('GET', '/api/v1/privacy-request?status=nonsense')).status).toBe(422);
  });

  it('retries an errored request from its failed step (scope privacy-request:resume)', async () => {
    hooks.responses.set('/identity', { status: 500, body: {} });
    const id = await create({ email: 'b@example.com' });
    const failed = await waitForStatus(id, 'error');
    expect(failed.failure_reason).toContain("webhook 'identity' returned HTTP 500");
    expect(failed.resume_endpoint).toBe(`/privacy-request/${id}/retry`);

    hooks.responses.clear();
    const wrongScope = await s.request('POST', `/api/v1/privacy-request/${id}/retry`, { token: await s.token(['privacy-request:read']) });
    expect(wrongScope.status).toBe(403);
    const retried = await s.request('POST', `/api/v1/privacy-request/${id}/retry`, { token: await s.token(['privacy-request:resume']) });
    expect(retried.status).toBe(200);
    await waitForStatus(id, 'complete');
    const again = await s.request('POST', `/api/v1/privacy-request/${id}/retry`);
    expect(again.status).toBe(400);
  });

  it('validates the body (422), reports unknown policies and empty identities as failed, and 404s unknown ids', async () => {
    const bad = await s.request('POST', '/api/v1/privacy-request', { body: [{ policy_key: 'access', identity: { shoe_size: '42' } }] });
    expect([bad.status, bad.body]).toEqual([422, { detail: [{ loc: ['body', 0, 'identity', 'shoe_size'], msg: 'extra fields not permitted', type: 'value_error.extra' }] }]);
    const res = await s.request('POST', '/api/v1/privacy-request', {
      body: [
        { policy_key: 'nope', identity: { email: 'c@example.com' } },
        { policy_key: 'access', identity: {} },
      ],
    });
    const body = res.body as { succeeded: unknown[]; failed: { message: string }[] };
    expect(body.succeeded).toEqual([]);
    expect(body.failed.map((f) => f.message)).toEqual(['Policy with key nope does not exist', 'You must provide at least one identity to process']);
    const missing = await s.request('GET', '/api/v1/privacy-request/pri_unknown');
    expect([missing.status, missing.body]).toEqual([404, { detail: "No privacy request found with id 'pri_unknown'." }]);
  });
});
