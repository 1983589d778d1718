/**
 * Privacy requests end to end: created through the service, executed by a real Worker against
 * real HTTP endpoints on 127.0.0.1, on SQLite and PostgreSQL. Covers every row of the
 * contract's outcome table (section 5), derived identities, halt/resume, retry and expiry.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueReplyToken } from '../../src/engine/reply-token.js';
import {
  createPrivacyRequests,
  expirePausedRequests,
  getPrivacyRequest,
  resumePrivacyRequest,
  retryPrivacyRequest,
} from '../../src/engine/service.js';
import type { RequestView } from '../../src/engine/request-views.js';
import { Worker } from '../../src/engine/worker.js';
import type { Database } from '../../src/state/database.js';
import { freshBackends } from '../helpers/backends.js';
import { AUTHORIZATION, Receiver, expectWebhookCall, keys, openBackend, seedPolicy, served, unique, type SeedWebhook, type Served } from './fixtures.js';

const EMAIL = 'customer-1@example.com';
const NOBODY = { email: EMAIL, phone_number: null };

let env: Awaited<ReturnType<typeof freshBackends>>;
let receiver: Receiver;
/** Every reply-to token sent, to prove none of them is stored anywhere readable. */
const tokensSeen = new Set<string>();

beforeAll(async () => {
  env = await freshBackends('engine_execution');
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver.close();
  await env.drop();
});

/** A URL on which nothing listens. */
async function closedUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/gone`;
}

function tokenOf(url: string, nth = 0): string {
  const token = receiver.callsTo(url)[nth]?.headers['reply-to-token'];
  if (typeof token !== 'string') throw new Error(`no reply-to token in call ${nth} to ${url}`);
  tokensSeen.add(token);
  return token;
}

describe.each(['sqlite', 'postgres'] as const)('%s: privacy request execution', (backendName) => {
  let db: Database;

  beforeAll(async () => {
    db = await openBackend(env.backends.find((b) => b.name === backendName)!);
  });
  afterAll(async () => db.close());

  async function drain(options: { webhookTimeoutMs?: number; resumeTimeoutMinutes?: number } = {}): Promise<void> {
    const worker = new Worker(db, keys, { leaseMs: 2_000, webhookTimeoutMs: 2_000, ...options });
    await worker.drain();
    await worker.stop();
  }

  async function view(id: string): Promise<RequestView> {
    const result = await served(getPrivacyRequest(db, id));
    if (result.status !== 200) throw new Error(`GET ${id}: ${result.status}`);
    return result.body;
  }

  async function create(policyKey: string, identity: { email?: string; phone_number?: string } = { email: EMAIL }): Promise<string> {
    const { succeeded, failed } = await createPrivacyRequests(db, [{ policy_key: policyKey, identity }]);
    expect(failed).toEqual([]);
    return succeeded[0]!.id;
  }

  /** Seed a policy, create one request for it, run the worker until nothing is left to do. */
  async function run(lists: { pre?: SeedWebhook[]; post?: SeedWebhook[] }, options: Parameters<typeof drain>[0] = {}) {
    const { policyKey, ids } = await seedPolicy(db.knex, lists);
    const id = await create(policyKey);
    await drain(options);
    return { id, ids, policyKey, view: await view(id) };
  }

  const outcomes = (v: RequestView) => v.timeline.map((e) => `${e.callback_type}:${e.webhook_key ?? '-'}:${e.outcome}`);

  describe('one-way webhooks', () => {
    it('continue whatever status they answer, and get exactly the contract headers and body', async () => {
      const pre = receiver.endpoint({ status: 500, body: { halt: true } });
      const post = receiver.endpoint({ status: 404 });
      const { id, view: v } = await run({
        pre: [{ key: unique('pre_one'), direction: 'one_way', url: pre, authorization: 'Token  a=b;c ' }],
        post: [{ key: unique('post_one'), direction: 'one_way', url: post }],
      });

      expect(v.status).toBe('complete');
      expect(v.failure_reason).toBeNull();
      expect(v.resume_endpoint).toBeNull();
      expect(v.started_processing_at).not.toBeNull();
      expect(v.finished_processing_at).not.toBeNull();
      expect(v.timeline.map((e) => [e.callback_type, e.direction, e.status_code, e.outcome])).toEqual([
        ['pre', 'one_way', 500, 'continue'],
        ['execute', null, null, 'executed'],
        ['post', 'one_way', 404, 'continue'],
      ]);
      expect(v.timeline[1]!.reason).toBe(`identity ${JSON.stringify(NOBODY)}`);
      // Authorization verbatim (HTTP itself trims the trailing space of a header value).
      expectWebhookCall(receiver.callsTo(pre)[0], {
        authorization: 'Token  a=b;c',
        replyTo: false,
        body: { privacy_request_id: id, direction: 'one_way', callback_type: 'pre', identity: NOBODY },
      });
      expectWebhookCall(receiver.callsTo(post)[0], {
        replyTo: false,
        body: { privacy_request_id: id, direction: 'one_way', callback_type: 'post', identity: NOBODY },
      });
    });

    it('that cannot be reached put the request in error, naming the webhook and the cause but not the URL', async () => {
      const url = await closedUrl();
      const key = unique('gone');
      const later = receiver.endpoint({ status: 200 });
      const { id, view: v } = await run({
        pre: [
          { key, direction: 'one_way', url },
          { key: unique('later'), direction: 'one_way', url: later },
        ],
      });
      expect(v.status).toBe('error');
      expect(v.failure_reason).toBe(`webhook '${key}' unreachable: connection refused (ECONNREFUSED)`);
      expect(v.resume_endpoint).toBe(`/privacy-request/${id}/retry`);
      expect(v.timeline).toEqual([expect.objectContaining({ webhook_key: key, status_code: null, outcome: 'error', reason: v.failure_reason })]);
      expect(receiver.callsTo(later)).toHaveLength(0);
    });
  });

  describe('two-way webhooks', () => {
    it('pre-execution ones alone get reply-to headers; 2xx with an empty body or {} continues', async () => {
      const empty204 = receiver.endpoint({ status: 204 });
      const emptyObject = receiver.endpoint({ status: 200, body: {} });
      const blank = receiver.endpoint({ status: 200, raw: '  \n' });
      const post = receiver.endpoint({ status: 201, body: {} });
      const { id, view: v } = await run({
        pre: [
          { key: unique('e204'), direction: 'two_way', url: empty204 },
          { key: unique('eobj'), direction: 'two_way', url: emptyObject },
        ],
        post: [
          { key: unique('blank'), direction: 'two_way', url: blank },
          { key: unique('post_two'), direction: 'two_way', url: post },
        ],
      });
      expect(v.status).toBe('complete');
      expect(v.timeline.map((e) => [e.callback_type, e.status_code, e.outcome])).toEqual([
        ['pre', 204, 'continue'],
        ['pre', 200, 'continue'],
        ['execute', null, 'executed'],
        ['post', 200, 'continue'],
        ['post', 201, 'continue'],
      ]);
      for (const url of [empty204, emptyObject]) {
        expectWebhookCall(receiver.callsTo(url)[0], {
          replyTo: true,
          body: { privacy_request_id: id, direction: 'two_way', callback_type: 'pre', identity: NOBODY },
        });
        tokenOf(url);
      }
      for (const url of [blank, post]) {
        expectWebhookCall(receiver.callsTo(url)[0], {
          replyTo: false,
          body: { privacy_request_id: id, direction: 'two_way', callback_type: 'post', identity: NOBODY },
        });
      }
    });

    it.each([
      [503, {}],
      [302, { location: 'http://127.0.0.1:1/elsewhere' }],
      [404, {}],
    ])('answering HTTP %i is an error: "returned HTTP <code>"', async (status, headers) => {
      const key = unique('status');
      const url = receiver.endpoint({ status, headers, body: { halt: false } });
      const { view: v } = await run({ post: [{ key, direction: 'two_way', url }] });
      expect(v.status).toBe('error');
      expect(v.failure_reason).toBe(`webhook '${key}' returned HTTP ${status}`);
      expect(v.timeline.at(-1)).toMatchObject({ webhook_key: key, callback_type: 'post', status_code: status, outcome: 'error' });
      expect(receiver.callsTo(url)).toHaveLength(1);
    });

    it('that reset the connection or time out are errors naming the webhook and the cause', async () => {
      const resetKey = unique('reset');
      const reset = await run({ pre: [{ key: resetKey, direction: 'two_way', url: receiver.endpoint('reset') }] });
      expect(reset.view.status).toBe('error');
      expect(reset.view.failure_reason).toMatch(new RegExp(`^webhook '${resetKey}' unreachable: connection reset \\((ECONNRESET|UND_ERR_SOCKET)\\)$`));

      // The connection's timeout_ms wins over the worker's default...
      const slowKey = unique('slow');
      const after = receiver.endpoint({ status: 200 });
      const started = Date.now();
      const slow = await run(
        {
          pre: [
            { key: slowKey, direction: 'two_way', url: receiver.endpoint('hang'), timeoutMs: 200 },
            { key: unique('after'), direction: 'one_way', url: after },
          ],
        },
        { webhookTimeoutMs: 5_000 },
      );
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(slow.view.status).toBe('error');
      expect(slow.view.failure_reason).toBe(`webhook '${slowKey}' timed out after 200 ms`);
      expect(slow.view.timeline[0]!.duration_ms).toBeGreaterThanOrEqual(190);
      expect(receiver.callsTo(after)).toHaveLength(0);

      // ...and without one, the worker's default applies.
      const defaultKey = unique('default_timeout');
      const byDefault = await run({ post: [{ key: defaultKey, direction: 'one_way', url: receiver.endpoint('hang') }] }, { webhookTimeoutMs: 150 });
      expect(byDefault.view.failure_reason).toBe(`webhook '${defaultKey}' timed out after 150 ms`);
      receiver.releaseHanging();
    });

    it.each([
      ['not JSON', { raw: 'OK' }, 'body is not JSON'],
      ['a JSON array', { body: [] }, 'body is not a JSON object'],
      ['JSON null', { raw: 'null' }, 'body is not a JSON object'],
      ['a JSON string', { body: 'true' }, 'body is not a JSON object'],
      ['without halt', { body: { privacy_request_id: 'x', derived_identity: {} } }, "'halt' is missing"],
      ['with a non-boolean halt', { body: { halt: 'maybe' } }, "'halt' must be a boolean"],
      ['with a null halt', { body: { halt: null } }, "'halt' must be a boolean"],
      ['with an unknown identity field', { body: { halt: true, derived_identity: { unsupported_identity: '1200 Fides Road' } } }, 'derived_identity.unsupported_identity: extra fields not permitted'],
      ['with a non-string identity value', { body: { halt: false, derived_identity: { email: 42 } } }, 'derived_identity.email: str type expected'],
    ])('answering 2xx %s is an error ("invalid response"), never stuck', async (_what, reply, problem) => {
      const key = unique('invalid');
      const later = receiver.endpoint({ status: 200 });
      const { view: v } = await run({
        pre: [
          { key, direction: 'two_way', url: receiver.endpoint({ status: 200, ...reply }) },
          { key: unique('later'), direction: 'one_way', url: later },
        ],
      });
      expect(v.status).toBe('error');
      expect(v.failure_reason).toBe(`webhook '${key}' returned an invalid response: ${problem}`);
      expect(v.identity).toEqual(NOBODY);
      expect(receiver.callsTo(later)).toHaveLength(0);
    });

    it('merge a derived identity: persisted, and sent to every later webhook', async () => {
      const deriving = receiver.endpoint({
        status: 200,
        body: { privacy_request_id: 'echo', halt: 'false', derived_identity: { phone_number: '+15555550100', email: null } },
      });
      const next = receiver.endpoint({ status: 200, body: { halt: false } });
      const post = receiver.endpoint({ status: 200 });
      const nextKey = unique('next');
      const { id, view: v } = await run({
        pre: [
          { key: unique('derive'), direction: 'two_way', url: deriving },
          { key: nextKey, direction: 'two_way', url: next },
        ],
        post: [{ key: unique('post'), direction: 'one_way', url: post }],
      });
      const derived = { email: EMAIL, phone_number: '+15555550100' };
      expect(v.status).toBe('complete');
      expect(v.identity).toEqual(derived);
      expect(v.timeline[0]).toMatchObject({ outcome: 'continue', reason: 'derived identity merged: phone_number' });
      expect(v.timeline[2]).toMatchObject({ outcome: 'executed', reason: `identity ${JSON.stringify(derived)}` });
      expect(receiver.callsTo(deriving)[0]!.body).toMatchObject({ identity: NOBODY });
      expect(receiver.callsTo(next)[0]!.body).toMatchObject({ identity: derived });
      expect(receiver.callsTo(post)[0]!.body).toMatchObject({ identity: derived });
      const stored = await db.knex('privacy_requests').where({ id }).first();
      expect(JSON.parse(stored.identity)).toEqual(derived);
      tokenOf(deriving);
    });

    it('give the execution step the identity derived by the last pre-execution webhook', async () => {
      const deriving = receiver.endpoint({ status: 200, body: { halt: false, derived_identity: { phone_number: '+15555550101' } } });
      const post = receiver.endpoint({ status: 200 });
      const { view: v } = await run({
        pre: [{ key: unique('derive_last'), direction: 'two_way', url: deriving }],
        post: [{ key: unique('post'), direction: 'one_way', url: post }],
      });
      const derived = { email: EMAIL, phone_number: '+15555550101' };
      expect(v.status).toBe('complete');
      expect(v.timeline.map((e) => e.outcome)).toEqual(['continue', 'executed', 'continue']);
      expect(v.timeline[1]).toMatchObject({ callback_type: 'execute', reason: `identity ${JSON.stringify(derived)}` });
      expect(receiver.callsTo(post)[0]!.body).toMatchObject({ identity: derived });
    });

    it('post-execution halt is ignored, and the timeline says so', async () => {
      const key = unique('post_halt');
      const after = receiver.endpoint({ status: 200 });
      const { view: v } = await run({
        post: [
          { key, direction: 'two_way', url: receiver.endpoint({ status: 200, body: { halt: 'TRUE' } }) },
          { key: unique('after'), direction: 'one_way', url: after },
        ],
      });
      expect(v.status).toBe('complete');
      expect(v.timeline[1]).toMatchObject({
        webhook_key: key,
        outcome: 'halt_ignored',
        reason: `webhook '${key}' asked to halt; ignored, only pre-execution webhooks can pause a request`,
      });
      expect(receiver.callsTo(after)).toHaveLength(1);
    });
  });

  it('skips webhooks of disabled connections and errors on a connection without secrets', async () => {
    const disabled = receiver.endpoint({ status: 200 });
    const noSecrets = unique('no_secrets');
    const { view: v } = await run({
      pre: [
        { key: unique('disabled'), direction: 'two_way', url: disabled, disabled: true },
        { key: noSecrets, direction: 'one_way', url: receiver.endpoint({ status: 200 }), secrets: false },
      ],
    });
    expect(receiver.callsTo(disabled)).toHaveLength(0);
    expect(v.timeline[0]).toMatchObject({ outcome: 'skipped' });
    expect(v.status).toBe('error');
    expect(v.failure_reason).toMatch(new RegExp(`^webhook '${noSecrets}' cannot be called: connection '.*' has no secrets$`));
  });

  describe('halt and resume', () => {
    /** pre: one_way A, two_way H (halts, deriving a phone number), one_way B; post: one_way P. */
    async function paused() {
      const a = receiver.endpoint({ status: 200 });
      const h = receiver.endpoint({ status: 200, body: { halt: true, derived_identity: { phone_number: '+15555550100' } } });
      const b = receiver.endpoint({ status: 200 });
      const p = receiver.endpoint({ status: 200 });
      const hKey = unique('halter');
      const run1 = await run({
        pre: [
          { key: unique('a'), direction: 'one_way', url: a },
          { key: hKey, direction: 'two_way', url: h },
          { key: unique('b'), direction: 'one_way', url: b },
        ],
        post: [{ key: unique('p'), direction: 'one_way', url: p }],
      });
      return { ...run1, a, h, b, p, hKey, token: tokenOf(h) };
    }

    it('pauses at the halting webhook, resumes with its token, and continues after it', async () => {
      const { id, view: v, a, h, b, p, hKey, token } = await paused();
      expect(v.status).toBe('paused');
      expect(v.paused_at).not.toBeNull();
      expect(v.finished_processing_at).toBeNull();
      expect(v.resume_endpoint).toBe(`/privacy-request/${id}/resume`);
      expect(v.identity).toEqual({ email: EMAIL, phone_number: '+15555550100' });
      expect(v.timeline[1]).toMatchObject({ webhook_key: hKey, outcome: 'halt', status_code: 200 });
      expect(receiver.callsTo(b)).toHaveLength(0);

      const resumed = await served(resumePrivacyRequest(db, keys, id, `Bearer ${token}`, { derived_identity: { email: 'derived@example.com' } }));
      expect(resumed.status).toBe(200);
      const body = resumed.body as RequestView;
      expect(body.status).toBe('in_processing');
      expect(body.resume_endpoint).toBeNull();
      expect(body.identity).toEqual({ email: 'derived@example.com', phone_number: '+15555550100' });

      await drain();
      const done = await view(id);
      expect(done.status).toBe('complete');
      expect(outcomes(done).map((o) => o.split(':').at(-1))).toEqual(['continue', 'halt', 'resumed', 'continue', 'executed', 'continue']);
      expect([a, h, b, p].map((url) => receiver.callsTo(url).length)).toEqual([1, 1, 1, 1]);
      expect(receiver.callsTo(b)[0]!.body).toMatchObject({ identity: { email: 'derived@example.com', phone_number: '+15555550100' } });

      // The token worked once: replayed, the request is no longer paused.
      const replay = await served(resumePrivacyRequest(db, keys, id, `Bearer ${token}`, {}));
      expect(replay).toEqual({ status: 400, body: { detail: `Invalid resume request: privacy request '${id}' status = complete.` } });
    });

    it('rejects bad resumes in the contract order, without merging their derived identity', async () => {
      const { id, token, view: before } = await paused();
      const other = await paused();
      const bad = { derived_identity: { email: 'attacker@example.com' } };
      const resume = (authorization: string | undefined, body: unknown = bad, now?: Date) => served(resumePrivacyRequest(db, keys, id, authorization, body, now));
      const [head, enc, iv, ciphertext, tag] = token.split('.');
      const flipped = ciphertext!.slice(0, -2) + (ciphertext!.endsWith('AA') ? 'BB' : 'AA');
      const tampered = [head, enc, iv, flipped, tag].join('.');
      expect(JSON.parse(Buffer.from(head!, 'base64url').toString())).toEqual({ alg: 'dir', enc: 'A256GCM' });
      const afterExpiry = new Date(Date.now() + 3600 * 60_000 + 60_000);

      expect(await resume(undefined)).toEqual({ status: 401, body: { detail: 'Failed to authenticate' }, headers: { 'WWW-Authenticate': 'Bearer' } });
      expect((await resume(`Basic ${token}`)).status).toBe(401);
      expect(await resume(`Bearer ${tampered}`)).toEqual({ status: 403, body: { detail: 'Not Authorized for this action' } });
      expect(await resume('Bearer not-a-jwe', {})).toEqual({ status: 403, body: { detail: 'Not Authorized for this action' } });
      // Another request's token (valid, paused, same policy shape) is not this request's.
      expect(await resume(`Bearer ${other.token}`)).toEqual({ status: 403, body: { detail: 'Not Authorized for this action' } });
      // Expired is checked before the body and the request.
      expect(await resume(`Bearer ${token}`, 'not an object', afterExpiry)).toEqual({ status: 403, body: { detail: 'Webhook token expired' } });
      expect(await resume(`Bearer ${token}`, { derived_identity: { ssn: '1' } })).toEqual({
        status: 422,
        body: { detail: [{ loc: ['body', 'derived_identity', 'ssn'], msg: 'extra fields not permitted', type: 'value_error.extra' }] },
      });
      expect((await resume(`Bearer ${token}`, [])).status).toBe(422);
      expect((await resume(`Bearer ${token}`, { derived: {} })).status).toBe(422);

      const untouched = await view(id);
      expect(untouched.status).toBe('paused');
      expect(untouched.identity).toEqual(before.identity);
      expect(untouched.timeline).toEqual(before.timeline);

      // A token for a request that does not exist: 404 (after the token checks).
      const ghost = await issueReplyToken(keys.replyToken, { webhookId: 'pol_x', privacyRequestId: 'pri_missing' }, 5);
      expect(await served(resumePrivacyRequest(db, keys, 'pri_missing', `Bearer ${ghost.token}`, 'not an object'))).toEqual({
        status: 404,
        body: { detail: "No privacy request found with id 'pri_missing'." },
      });
    });

    it('lets only one of two simultaneous resumes with the same token through', async () => {
      const { id, token } = await paused();
      const results = await Promise.all(
        ['first@example.com', 'second@example.com'].map((email) => served(resumePrivacyRequest(db, keys, id, `Bearer ${token}`, { derived_identity: { email } }))),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
      const winner = results.find((r) => r.status === 200)!.body as RequestView;
      expect((await view(id)).identity).toEqual(winner.identity);
      expect((await view(id)).timeline.filter((e) => e.outcome === 'resumed')).toHaveLength(1);
      await drain();
    });

    it('accepts a resume sent while the halting webhook is still answering', async () => {
      let early: Promise<Served<RequestView>> | undefined;
      const h = receiver.endpoint((call) => {
        const token = call.headers['reply-to-token'] as string;
        tokensSeen.add(token);
        const { privacy_request_id } = call.body as { privacy_request_id: string };
        early = served(resumePrivacyRequest(db, keys, privacy_request_id, `Bearer ${token}`, { derived_identity: { phone_number: '+15555550199' } }));
        return { status: 200, body: { halt: true }, delayMs: 50 };
      });
      const after = receiver.endpoint({ status: 200 });
      const { id } = await run({
        pre: [
          { key: unique('eager'), direction: 'two_way', url: h },
          { key: unique('after'), direction: 'one_way', url: after },
        ],
      });
      expect((await early)?.status).toBe(200);
      await drain();
      const done = await view(id);
      expect(done.status).toBe('complete');
      expect(done.identity).toEqual({ email: EMAIL, phone_number: '+15555550199' });
      expect(receiver.callsTo(after)).toHaveLength(1);
    });

    it('refuses the token of an earlier pause (403) and of a finished one (400)', async () => {
      const h1 = receiver.endpoint({ status: 200, body: { halt: true } });
      const h2 = receiver.endpoint({ status: 200, body: { halt: true } });
      const { id } = await run({
        pre: [
          { key: unique('h1'), direction: 'two_way', url: h1 },
          { key: unique('h2'), direction: 'two_way', url: h2 },
        ],
      });
      const first = tokenOf(h1);
      expect((await served(resumePrivacyRequest(db, keys, id, `Bearer ${first}`, {}))).status).toBe(200);
      // In processing, not paused: a replay is a 400 naming the status.
      expect(await served(resumePrivacyRequest(db, keys, id, `Bearer ${first}`, {}))).toEqual({
        status: 400,
        body: { detail: `Invalid resume request: privacy request '${id}' status = in_processing.` },
      });
      await drain();
      expect((await view(id)).status).toBe('paused');

      // Paused again, by h2: the h1 token is an old one.
      const replay = await served(resumePrivacyRequest(db, keys, id, `Bearer ${first}`, { derived_identity: { email: 'x@example.com' } }));
      expect(replay).toEqual({ status: 403, body: { detail: 'Not Authorized for this action' } });
      expect((await view(id)).identity).toEqual(NOBODY);
      expect((await served(resumePrivacyRequest(db, keys, id, `Bearer ${tokenOf(h2)}`, {}))).status).toBe(200);
      await drain();
      expect((await view(id)).status).toBe('complete');
    });

    it('expires a pause whose token lifetime passed; retry runs the pre-execution webhooks again with a new token', async () => {
      const h = receiver.endpoint([{ status: 200, body: { halt: true } }, { status: 200, body: { halt: true } }, { status: 200, body: {} }]);
      const { id } = await run({ pre: [{ key: unique('expiring'), direction: 'two_way', url: h }] }, { resumeTimeoutMinutes: 0.5 });
      const oldToken = tokenOf(h);
      expect(await expirePausedRequests(db, new Date(Date.now() + 20_000))).toBe(0);
      expect(await expirePausedRequests(db, new Date(Date.now() + 31_000))).toBeGreaterThanOrEqual(1);
      const expired = await view(id);
      expect(expired.status).toBe('error');
      expect(expired.failure_reason).toBe('paused request expired');
      expect(expired.resume_endpoint).toBe(`/privacy-request/${id}/retry`);
      expect(expired.timeline.at(-1)).toMatchObject({ outcome: 'expired', reason: 'paused request expired' });
      expect((await served(resumePrivacyRequest(db, keys, id, `Bearer ${oldToken}`, {}, new Date(Date.now() + 31_000)))).body).toEqual({
        detail: 'Webhook token expired',
      });

      expect((await served(retryPrivacyRequest(db, id))).status).toBe(200);
      await drain();
      expect((await view(id)).status).toBe('paused');
      // Same webhook, new pause: the first token is not this pause's.
      expect((await served(resumePrivacyRequest(db, keys, id, `Bearer ${oldToken}`, {}))).status).toBe(403);
      expect((await served(resumePrivacyRequest(db, keys, id, `Bearer ${tokenOf(h, 1)}`, {}))).status).toBe(200);
      await drain();
      expect((await view(id)).status).toBe('complete');
    });
  });

  describe('retry', () => {
    it('restarts a failed pre step from its first webhook', async () => {
      const a = receiver.endpoint({ status: 200 });
      const flaky = receiver.endpoint([{ status: 500 }, { status: 200, body: {} }]);
      const p = receiver.endpoint({ status: 200 });
      const { id, view: v } = await run({
        pre: [
          { key: unique('a'), direction: 'one_way', url: a },
          { key: unique('flaky'), direction: 'two_way', url: flaky },
        ],
        post: [{ key: unique('p'), direction: 'one_way', url: p }],
      });
      expect(v.status).toBe('error');
      const retried = await served(retryPrivacyRequest(db, id));
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ status: 'in_processing', failure_reason: null, resume_endpoint: null });
      await drain();
      const done = await view(id);
      expect(done.status).toBe('complete');
      expect([a, flaky, p].map((url) => receiver.callsTo(url).length)).toEqual([2, 2, 1]);
      // A retry calls again: new calls, new webhook ids.
      const ids = [a, flaky].flatMap((url) => receiver.callsTo(url).map((c) => c.headers['webhook-id']));
      expect(new Set(ids).size).toBe(4);
      expect(outcomes(done).map((o) => o.split(':').at(-1))).toEqual(['continue', 'error', 'retried', 'continue', 'continue', 'executed', 'continue']);
    });

    it('restarts a failed post step without running the pre step again', async () => {
      const a = receiver.endpoint({ status: 200 });
      const p1 = receiver.endpoint({ status: 200 });
      const flaky = receiver.endpoint([{ status: 200, raw: '<html>' }, { status: 200 }]);
      const { id } = await run({
        pre: [{ key: unique('a'), direction: 'one_way', url: a }],
        post: [
          { key: unique('p1'), direction: 'one_way', url: p1 },
          { key: unique('flaky'), direction: 'two_way', url: flaky },
        ],
      });
      expect((await served(retryPrivacyRequest(db, id))).status).toBe(200);
      await drain();
      expect((await view(id)).status).toBe('complete');
      expect([a, p1, flaky].map((url) => receiver.callsTo(url).length)).toEqual([1, 2, 2]);
    });

    it('refuses requests that are not in error, and unknown ones', async () => {
      const { id } = await run({ pre: [{ key: unique('ok'), direction: 'one_way', url: receiver.endpoint({ status: 200 }) }] });
      expect(await served(retryPrivacyRequest(db, id))).toEqual({
        status: 400,
        body: { detail: `Cannot restart privacy request from failure: privacy request '${id}' status = complete.` },
      });
      expect(await served(retryPrivacyRequest(db, 'pri_nope'))).toEqual({ status: 404, body: { detail: "No privacy request found with id 'pri_nope'." } });
    });
  });

  it('stores no secret: no authorization, URL or reply-to token in any column', async () => {
    const requests = await db.knex('privacy_requests').select('*');
    const events = await db.knex('privacy_request_events').select('*');
    expect(requests.length).toBeGreaterThan(10);
    expect(events.some((e) => e.outcome === 'error' && e.reason)).toBe(true);
    expect(tokensSeen.size).toBeGreaterThan(5);
    const dump = JSON.stringify([requests, events]);
    expect(dump).not.toContain(AUTHORIZATION);
    expect(dump).not.toContain('a=b;c');
    expect(dump).not.toContain('127.0.0.1');
    expect(dump).not.toContain('/hook/');
    for (const token of tokensSeen) {
      for (const part of token.split('.').filter(Boolean)) expect(dump).not.toContain(part);
    }
  });
});
