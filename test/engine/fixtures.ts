/**
 * Engine test fixtures: a real HTTP receiver on 127.0.0.1 that records every call and answers
 * as told, and config rows seeded directly in the state database.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { expect } from 'vitest';
import type { Direction } from '../../src/model/types.js';
import { FidesError } from '../../src/model/errors.js';
import { encryptJson } from '../../src/state/crypto.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../../src/state/database.js';
import { deriveKeys, parseMasterKey, type Keys } from '../../src/state/keys.js';
import { TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';

export const keys: Keys = deriveKeys(parseMasterKey(TEST_MASTER_KEY, 'TEST_MASTER_KEY'));

export async function openBackend(backend: Backend): Promise<Database> {
  return openDatabase(parseDatabaseUrl(backend.url, backend.dir));
}

/** What a route would send for a service call: its result with 200, or its FidesError's status, `{detail}` and headers. */
export type Served<T> = { status: 200; body: T } | { status: 400 | 401 | 403 | 404 | 422; body: { detail: FidesError['detail'] }; headers?: Record<string, string> };

export async function served<T>(result: Promise<T>): Promise<Served<T>> {
  try {
    return { status: 200, body: await result };
  } catch (err) {
    if (!(err instanceof FidesError)) throw err;
    return { status: err.status as 400 | 401 | 403 | 404 | 422, body: { detail: err.detail }, ...(err.headers && { headers: err.headers }) };
  }
}

export interface ReceivedCall {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** How an endpoint answers: a response, never (`hang`), or by dropping the connection (`reset`). */
export type Reply = { status?: number; body?: unknown; raw?: string; headers?: Record<string, string>; delayMs?: number } | 'hang' | 'reset';
/** A fixed reply, or one per call (the last one repeats), or computed from the call. */
export type Script = Reply | Reply[] | ((call: ReceivedCall) => Reply);

export class Receiver {
  readonly calls: ReceivedCall[] = [];
  private readonly scripts = new Map<string, Script>();
  private readonly hanging = new Set<http.ServerResponse>();

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<Receiver> {
    const server = http.createServer();
    const receiver = new Receiver(server);
    server.on('request', (req, res) => receiver.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** A new endpoint URL on this receiver, answering by `script`. */
  endpoint(script: Script): string {
    const path = `/hook/${crypto.randomUUID()}`;
    this.scripts.set(path, script);
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  callsTo(url: string): ReceivedCall[] {
    const path = new URL(url).pathname;
    return this.calls.filter((c) => c.path === path);
  }

  /** Answer the calls left hanging (with a 204) so that the callers' sockets close. */
  releaseHanging(): void {
    for (const res of this.hanging) res.writeHead(204).end();
    this.hanging.clear();
  }

  async close(): Promise<void> {
    this.releaseHanging();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const call: ReceivedCall = { method: req.method!, path: req.url!, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      this.calls.push(call);
      const reply = this.replyFor(call);
      if (reply === 'hang') {
        this.hanging.add(res);
        return;
      }
      if (reply === 'reset') {
        req.socket.destroy();
        return;
      }
      const body = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
      const send = () => res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers }).end(body);
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  }

  private replyFor(call: ReceivedCall): Reply {
    const script = this.scripts.get(call.path);
    if (script === undefined) return { status: 404 };
    if (typeof script === 'function') return script(call);
    if (Array.isArray(script)) {
      const n = this.calls.filter((c) => c.path === call.path).length;
      return script[Math.min(n, script.length) - 1]!;
    }
    return script;
  }
}

let counter = 0;
/** A name unique in this test process (webhook keys are unique per phase across policies). */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}_${counter}_${crypto.randomBytes(3).toString('hex')}`;
}

export interface SeedWebhook {
  /** Also the webhook's name prefix. */
  key: string;
  direction: Direction;
  url: string;
  authorization?: string;
  /** Connection `timeout_ms`. */
  timeoutMs?: number;
  disabled?: boolean;
  /** False: the connection has no secrets. */
  secrets?: boolean;
}

export const AUTHORIZATION = 'Bearer hook-secret-7f3a9c';

/**
 * A policy with pre/post webhooks, each on its own connection (url and authorization as
 * given), rows inserted directly. Returns the policy key and the webhook ids by key.
 */
export async function seedPolicy(knex: Knex, lists: { pre?: SeedWebhook[]; post?: SeedWebhook[] }): Promise<{ policyKey: string; ids: Map<string, string> }> {
  const now = new Date().toISOString();
  const policyKey = unique('policy');
  await knex('policies').insert({ key: policyKey, name: policyKey, origin: 'api', created_at: now, updated_at: now });
  const ids = new Map<string, string>();
  for (const phase of ['pre', 'post'] as const) {
    for (const [position, hook] of (lists[phase] ?? []).entries()) {
      const connectionKey = unique(`conn_${hook.key}`);
      await knex('connections').insert({
        key: connectionKey,
        name: connectionKey,
        connection_type: 'https',
        access: 'read',
        disabled: hook.disabled ?? false,
        timeout_ms: hook.timeoutMs ?? null,
        secrets_encrypted:
          hook.secrets === false ? null : encryptJson(keys.secrets, { url: hook.url, authorization: hook.authorization ?? AUTHORIZATION }),
        origin: 'api',
        created_at: now,
        updated_at: now,
      });
      const id = `pol_${crypto.randomUUID()}`;
      ids.set(hook.key, id);
      await knex('webhooks').insert({
        id,
        phase,
        policy_key: policyKey,
        key: hook.key,
        name: `${hook.key} name`,
        connection_key: connectionKey,
        direction: hook.direction,
        position,
        created_at: now,
        updated_at: now,
      });
    }
  }
  return { policyKey, ids };
}

/** Headers every fetch sends on its own; anything else on a webhook call is ours. */
const TRANSPORT_HEADERS = new Set(['host', 'connection', 'content-length', 'accept', 'accept-language', 'sec-fetch-mode', 'user-agent', 'accept-encoding']);

/**
 * One webhook call exactly as the contract says: POST, JSON content type, the authorization
 * verbatim, reply-to headers only when `replyTo` (two-way pre), and exactly this body.
 */
export function expectWebhookCall(
  call: ReceivedCall | undefined,
  expected: {
    authorization?: string;
    replyTo: boolean;
    body: { privacy_request_id: string; direction: Direction; callback_type: 'pre' | 'post'; identity: { email: string | null; phone_number: string | null } };
  },
): void {
  expect(call).toBeDefined();
  expect(call!.method).toBe('POST');
  const ours = Object.fromEntries(Object.entries(call!.headers).filter(([name]) => !TRANSPORT_HEADERS.has(name)));
  const replyHeaders = expected.replyTo
    ? { 'reply-to': `/privacy-request/${expected.body.privacy_request_id}/resume`, 'reply-to-token': expect.stringMatching(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/) }
    : {};
  expect(ours).toStrictEqual({
    'content-type': 'application/json',
    authorization: expected.authorization ?? AUTHORIZATION,
    'webhook-id': expect.stringMatching(/^msg_[\w-]{27}$/),
    ...replyHeaders,
  });
  expect(call!.headers['user-agent']).toMatch(/^hookctl\/\d+\.\d+\.\d+/);
  expect(call!.body).toStrictEqual(expected.body);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
