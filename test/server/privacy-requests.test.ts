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

  /** Every field of Fides' PrivacyRequestCreate (2.84), as a Fides client may send it. */
  const FIDES_ITEM = {
    policy_key: 'access',
    identity: { email: 'full@example.com', phone_number: null },
    external_id: 'ext-42',
    requested_at: '2021-08-30T18:09:37.359+02:00',
    started_processing_at: null,
    finished_processing_at: null,
    consent_request_id: 'consent-1',
    custom_privacy_request_fields: { site_id: { label: 'Site', value: 'abc' }, tags: { label: 'Tags', value: ['a', 1] } },
    encryption_key: 'client-key-secret',
    property_id: 'FDS-1',
    consent_preferences: [],
    source: 'Privacy Center',
    location: 'US-CA',
  };

  it("accepts every field of Fides' create body on both create routes, storing external_id and requested_at", async () => {
    for (const path of ['/api/v1/privacy-request', '/api/v1/privacy-request/authenticated']) {
      const res = expectStatus(await s.request('POST', path, { body: [FIDES_ITEM] }), 200);
      const { succeeded, failed } = res.body as { succeeded: (RequestBody & Record<string, unknown>)[]; failed: unknown[] };
      expect(failed).toEqual([]);
      expect(succeeded[0]).toMatchObject({ policy_key: 'access', external_id: 'ext-42', requested_at: '2021-08-30T16:09:37.359Z' });
      const stored = (await s.request('GET', `/api/v1/privacy-request/${succeeded[0]!.id}`)).body as Record<string, unknown>;
      expect(stored).toMatchObject({ external_id: 'ext-42', requested_at: '2021-08-30T16:09:37.359Z' });
      // The ignored fields are not returned.
      for (const field of ['encryption_key', 'custom_privacy_request_fields', 'property_id', 'source', 'location']) expect(stored).not.toHaveProperty(field);
    }
    // Without an offset a time is UTC; without requested_at there is none.
    const naive = expectStatus(await s.request('POST', '/api/v1/privacy-request', { body: [{ policy_key: 'access', identity: { email: 'n@example.com' }, requested_at: '2021-08-30 16:09:37' }, { policy_key: 'access', identity: { email: 'm@example.com' } }] }), 200);
    expect((naive.body as { succeeded: RequestBody[] }).succeeded.map((r) => (r as unknown as { requested_at: string | null }).requested_at)).toEqual(['2021-08-30T16:09:37.000Z', null]);
    // The authenticated route needs privacy-request:create like the other.
    expect((await s.request('POST', '/api/v1/privacy-request/authenticated', { token: await s.token(['privacy-request:read']), body: [FIDES_ITEM] })).status).toBe(403);
    // A failed item is echoed back without its encryption key.
    const failedRes = expectStatus(await s.request('POST', '/api/v1/privacy-request', { body: [{ ...FIDES_ITEM, policy_key: 'nope' }] }), 200);
    expect(failedRes.text).not.toContain('client-key-secret');
    expect((failedRes.body as { failed: { message: string; data: Record<string, unknown> }[] }).failed[0]).toMatchObject({ message: 'Policy with key nope does not exist', data: { external_id: 'ext-42' } });
  });

  it('refuses with 422 what breaks the limits: long external_id or keys, NUL characters, impossible dates, unknown fields', async () => {
    const item = { policy_key: 'access', identity: { email: 'x@example.com' } };
    const cases: [Record<string, unknown>, unknown[], unknown][] = [
      [{ ...item, external_id: 'e'.repeat(201) }, ['body', 0, 'external_id'], 'ensure this value has at most 200 characters'],
      [{ ...item, policy_key: 'k'.repeat(101) }, ['body', 0, 'policy_key'], 'ensure this value has at most 100 characters'],
      [{ ...item, external_id: 'a\u0000b' }, ['body', 0, 'external_id'], 'string contains a NUL character'],
      [{ ...item, identity: { email: 'x\u0000@example.com' } }, ['body', 0, 'identity', 'email'], 'string contains a NUL character'],
      [{ ...item, location: 'US\u0000' }, ['body', 0, 'location'], 'string contains a NUL character'],
      [{ ...item, requested_at: 'yesterday' }, ['body', 0, 'requested_at'], 'invalid datetime format'],
      [{ ...item, requested_at: '2021-02-30T10:00:00Z' }, ['body', 0, 'requested_at'], 'invalid datetime format'],
      [{ ...item, source: 'Somewhere' }, ['body', 0, 'source'], expect.stringContaining('permitted')],
      [{ ...item, shoe_size: 42 }, ['body', 0, 'shoe_size'], 'extra fields not permitted'],
    ];
    for (const [body, loc, msg] of cases) {
      const res = await s.request('POST', '/api/v1/privacy-request', { body: [body] });
      expect([res.status, (res.body as { detail: unknown[] }).detail]).toEqual([422, [expect.objectContaining({ loc, msg })]]);
    }
    expect((await s.request('POST', '/api/v1/privacy-request', { body: [{ ...item, external_id: 'e'.repeat(200) }] })).status).toBe(200);
  });

  it('answers the status reads of Fides clients: GET ?request_id=&verbose=True and POST /search', async () => {
    hooks.responses.set('/identity', { status: 200, body: { halt: true } });
    const res = expectStatus(await s.request('POST', '/api/v1/privacy-request', { body: [{ ...FIDES_ITEM, external_id: 'Order-7' }] }), 200);
    const paused = (res.body as { succeeded: RequestBody[] }).succeeded[0]!.id;
    await waitForStatus(paused, 'paused');
    hooks.responses.clear();
    const complete = await create({ email: 'done@example.com' });
    await waitForStatus(complete, 'complete');
    const ids = (body: unknown) => (body as { items: RequestBody[] }).items.map((r) => r.id);

    // The deprecated GET: request_id matches part of the id, any case; verbose takes Python's spellings.
    for (const query of [`request_id=${paused}&verbose=True`, `request_id=${paused.slice(10, 20).toUpperCase()}&verbose=false`, `request_id=${paused}&verbose=1`]) {
      expect(ids(expectStatus(await s.request('GET', `/api/v1/privacy-request/?${query}`), 200).body)).toEqual([paused]);
    }
    expect((await s.request('GET', `/api/v1/privacy-request?request_id=${paused}&verbose=maybe`)).status).toBe(422);
    // Unknown parameters are ignored, as FastAPI ignores them.
    expect(ids((await s.request('GET', '/api/v1/privacy-request?utm_source=mail&foo=bar')).body)).toEqual([complete, paused]);
    // status repeats, external_id is a prefix in any case, statuses hookctl never sets are valid and match nothing.
    expect(ids((await s.request('GET', '/api/v1/privacy-request?status=paused&status=complete&sort_direction=asc')).body)).toEqual([paused, complete]);
    expect(ids((await s.request('GET', '/api/v1/privacy-request?external_id=order-')).body)).toEqual([paused]);
    expect(ids((await s.request('GET', '/api/v1/privacy-request?status=approved')).body)).toEqual([]);

    // The search that replaces it: a JSON filter, page and size in the query.
    const search = (body: unknown, query = '') => s.request('POST', `/api/v1/privacy-request/search${query}`, { body });
    expect(ids(expectStatus(await search({ request_id: paused, verbose: true }), 200).body)).toEqual([paused]);
    expect(ids((await search({ status: 'complete' })).body)).toEqual([complete]);
    expect(ids((await search({ status: ['complete', 'paused'], sort_field: 'created_at', sort_direction: 'asc', include_identities: true })).body)).toEqual([paused, complete]);
    expect(ids((await search({ external_id: 'ORDER' })).body)).toEqual([paused]);
    const page = (await search({}, '?page=2&size=1')).body as { items: RequestBody[]; total: number; page: number; size: number };
    expect([page.items.map((r) => r.id), page.total, page.page, page.size]).toEqual([[paused], 2, 2, 1]);
    expect(ids(expectStatus(await s.request('POST', '/api/v1/privacy-request/search'), 200).body)).toEqual([complete, paused]);
    // As in Fides, unknown keys of the filter are 422; filters hookctl cannot apply are 400, never ignored.
    const extra = await search({ request_id: paused, colour: 'blue' });
    expect([extra.status, extra.body]).toEqual([422, { detail: [{ loc: ['body', 'colour'], msg: 'extra fields not permitted', type: 'value_error.extra' }] }]);
    const unsupported = await search({ identities: { email: 'done@example.com' } });
    expect([unsupported.status, unsupported.body]).toEqual([400, { detail: "Filtering privacy requests by 'identities' is not supported by hookctl." }]);
    expect((await s.request('GET', '/api/v1/privacy-request?created_gt=2024-01-01T00:00:00Z')).status).toBe(400);
    expect((await s.request('POST', '/api/v1/privacy-request/search', { body: {}, token: await s.token(['privacy-request:create']) })).status).toBe(403);
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
