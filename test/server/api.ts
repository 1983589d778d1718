/**
 * A real server on 127.0.0.1 (random port) over a real state database, and a small fetch
 * client for it. Fixtures are created through the API itself, like a user would.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server/app.js';
import { issueApiToken, SCOPES, type Scope } from '../../src/server/auth.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../../src/state/database.js';
import { deriveKeys, parseMasterKey, type Keys } from '../../src/state/keys.js';
import { TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';

export const ROOT_CLIENT = { id: 'root-client', secret: 'root-client-secret-value' };
/** The client of the tokens this helper makes: API writes with them are recorded as `api:test-client`. */
export const TEST_CLIENT_ID = 'test-client';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
}

export interface TestServer {
  app: FastifyInstance;
  db: Database;
  keys: Keys;
  base: string;
  /** A token with these scopes (default: all). */
  token(scopes?: readonly Scope[]): Promise<string>;
  request(method: string, path: string, opts?: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<ApiResponse>;
  /** Every response body seen so far: tests scan them for secrets. */
  seenBodies: string[];
  close(): Promise<void>;
}

export async function startServer(backend: Backend, opts: { lockTimeoutMs?: number; requestTimeoutMs?: number } = {}): Promise<TestServer> {
  const db = await openDatabase(parseDatabaseUrl(backend.url, backend.dir));
  const keys = deriveKeys(parseMasterKey(TEST_MASTER_KEY, 'test key'));
  const app = await buildServer({ db, keys, rootClient: ROOT_CLIENT, ...opts });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const seenBodies: string[] = [];
  const allScopes = await issueApiToken(keys, SCOPES, 3_600_000, TEST_CLIENT_ID);
  return {
    app,
    db,
    keys,
    base,
    seenBodies,
    token: async (scopes) => (scopes ? issueApiToken(keys, scopes, 3_600_000, TEST_CLIENT_ID) : allScopes),
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const token = opts.token === undefined ? allScopes : opts.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined = opts.rawBody;
      if (opts.body !== undefined) {
        payload = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${base}${path}`, { method, headers, body: payload });
      const text = await res.text();
      seenBodies.push(text);
      return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/** Empties the configuration (a fresh state per test) without touching the schema. */
export async function resetState(db: Database): Promise<void> {
  await db.knex.transaction(async (trx) => {
    for (const table of ['privacy_request_events', 'privacy_requests', 'webhooks', 'policies', 'connections', 'revisions']) await trx(table).del();
    await trx('hookctl_meta').where({ name: 'serial' }).update({ value: '0' });
  });
}

export async function serial(db: Database): Promise<number> {
  const row = (await db.knex('hookctl_meta').where({ name: 'serial' }).first('value')) as { value: string };
  return Number(row.value);
}

/** Fails the test with the response when the status is not the expected one. */
export function expectStatus(res: ApiResponse, status: number): ApiResponse {
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${res.text}`);
  return res;
}
