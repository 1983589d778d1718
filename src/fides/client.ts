/**
 * A client of a Fides server's HTTP API, for plan/apply/export against it. On the global fetch
 * with one keep-alive undici Agent; every call bounded by a timeout, retried where retrying is
 * safe, and every answer checked against a JSON Schema of schemas/fides/ before it is used.
 * Credentials and tokens live in this object only: no message it makes carries them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import { Agent } from 'undici';
import { ExitCode, HookctlError } from '../errors.js';
import { shippedSchemaDir } from '../fs-paths.js';

export type FidesCredentials = { kind: 'token'; token: string } | { kind: 'client'; clientId: string; clientSecret: string };

/** Every scope a plan/apply/export needs (the client must hold them all to apply). */
export const REQUIRED_SCOPES = [
  'connection:read',
  'connection:create_or_update',
  'connection:delete',
  'policy:read',
  'policy:create_or_update',
  'policy:delete',
  'webhook:read',
  'webhook:create_or_update',
];

export type SchemaName = 'health' | 'token' | 'page' | 'connection' | 'policy' | 'webhook' | 'bulk' | 'secret-put' | 'webhook-list';

export interface FidesClientOptions {
  target: string;
  credentials: FidesCredentials;
  timeoutMs: number;
  parallelism: number;
}

/** A call the server answered with a status hookctl does not take as success: final, reported with the server's message. */
export class FidesCallError extends HookctlError {
  constructor(
    readonly call: string,
    readonly status: number,
    readonly serverMessage: string,
    target: string,
  ) {
    super(`${target}: ${call} answered ${status}: ${serverMessage}`, ExitCode.runtime);
  }
}

/** Answers worth another attempt: the server (or a proxy) said so, or could not take the call now. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const ATTEMPTS = 3;
const BACKOFF_MS = 250;
/** A Retry-After above this is not waited for: the call fails instead of hanging the apply. */
const MAX_RETRY_AFTER_MS = 60_000;

export class FidesClient {
  readonly target: string;
  private readonly agent: Agent;
  private token: string | undefined;
  /** The token being fetched: calls in flight at once share one fetch. */
  private tokenFetch: Promise<void> | undefined;
  private readonly timeoutMs: number;
  readonly parallelism: number;
  private version: { value: string | null } | undefined;

  constructor(private readonly opts: FidesClientOptions) {
    this.target = opts.target;
    this.timeoutMs = opts.timeoutMs;
    this.parallelism = opts.parallelism;
    this.agent = new Agent({ keepAliveTimeout: 30_000, connections: opts.parallelism, connect: { timeout: opts.timeoutMs } });
    if (opts.credentials.kind === 'token') this.token = opts.credentials.token;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** The server's version from /health at the root; null: a fidesops 1.x server (no version there). */
  async serverVersion(): Promise<string | null> {
    if (!this.version) {
      const health = await this.call<{ version?: string }>('GET', '/health', { schema: 'health', auth: false });
      this.version = { value: health.body.version ?? null };
    }
    return this.version.value;
  }

  /** The prefix of DSR policies and their webhooks: fidesops had them at /policy. */
  async policyPrefix(): Promise<string> {
    return (await this.serverVersion()) === null ? '/api/v1/policy' : '/api/v1/dsr/policy';
  }

  async get<T>(pathAndQuery: string, schema: SchemaName): Promise<T> {
    return (await this.call<T>('GET', pathAndQuery, { schema })).body;
  }

  /**
   * Every item of a paginated list: the first page tells how many there are, the others are
   * read `parallelism` at a time. Each item is checked with `itemSchema`.
   */
  async getAll<T>(listPath: string, itemSchema: SchemaName, size = 100): Promise<T[]> {
    const sep = listPath.includes('?') ? '&' : '?';
    const pageOf = async (page: number) => {
      const body = await this.get<{ items: unknown[]; total: number }>(`${listPath}${sep}page=${page}&size=${size}`, 'page');
      for (const item of body.items) this.check(itemSchema, item, `GET ${listPath}`);
      return body;
    };
    const first = await pageOf(1);
    const pages = Math.ceil(first.total / size);
    const rest = await this.mapBounded(
      Array.from({ length: Math.max(0, pages - 1) }, (_, i) => i + 2),
      async (page) => (await pageOf(page)).items,
    );
    return [...first.items, ...rest.flat()] as T[];
  }

  /** `fn` over `items`, at most `parallelism` at once, results in order; the first error wins. */
  async mapBounded<I, R>(items: readonly I[], fn: (item: I) => Promise<R>): Promise<R[]> {
    const results = new Array<R>(items.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < items.length) {
        const i = next++;
        try {
          results[i] = await fn(items[i]!);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.parallelism, items.length) }, worker));
    return results;
  }

  /**
   * One call with its retries: 429/502/503/504 and a connection refused or reset before any
   * answer are tried again (every call hookctl makes is idempotent), with backoff and the
   * server's Retry-After; a timeout or any other answer is final. With client credentials, a 403
   * gets one new token and one more try (an expired Fides token is a 403).
   */
  async call<T>(
    method: string,
    pathAndQuery: string,
    opts: { schema?: SchemaName; json?: unknown; form?: Record<string, string>; auth?: boolean; accept?: number[] } = {},
  ): Promise<{ status: number; body: T }> {
    const callName = `${method} ${pathAndQuery.split('?')[0]}`;
    const auth = opts.auth !== false;
    if (auth && !this.token) await this.fetchToken();
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      const sentWith = this.token;
      try {
        res = await this.send(method, pathAndQuery, opts, auth);
      } catch (err) {
        const failure = this.networkFailure(err, callName);
        if (failure.retry && attempt < ATTEMPTS) {
          await sleep(BACKOFF_MS * 2 ** (attempt - 1));
          continue;
        }
        throw failure.error;
      }
      const text = await this.readBody(res, callName);
      if (RETRY_STATUSES.has(res.status) && attempt < ATTEMPTS) {
        await sleep(retryDelay(res.headers.get('retry-after'), attempt));
        continue;
      }
      if (auth && res.status === 403 && this.opts.credentials.kind === 'client' && !refreshed) {
        refreshed = true;
        attempt = 0;
        // Another call may have renewed it meanwhile: one new token for all of them.
        if (this.token === sentWith) await this.fetchToken();
        continue;
      }
      if (res.status === 401 || res.status === 403) throw this.refused(callName, res.status, serverDetail(text));
      const accepted = opts.accept ?? [200];
      if (!accepted.includes(res.status)) {
        if (res.status >= 200 && res.status < 300) throw this.unexpected(callName, `status ${res.status}`);
        throw new FidesCallError(callName, res.status, serverDetail(text) || `status ${res.status}`, this.target);
      }
      if (!opts.schema) return { status: res.status, body: undefined as T };
      const body = this.parseJson(text, res.headers.get('content-type'), callName);
      this.check(opts.schema, body, callName);
      return { status: res.status, body: body as T };
    }
  }

  private fetchToken(): Promise<void> {
    this.tokenFetch ??= this.newToken().finally(() => (this.tokenFetch = undefined));
    return this.tokenFetch;
  }

  private async newToken(): Promise<void> {
    const creds = this.opts.credentials;
    if (creds.kind !== 'client') return;
    const res = await this.call<{ access_token: string }>('POST', '/api/v1/oauth/token', {
      auth: false,
      schema: 'token',
      form: { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret },
    });
    this.token = res.body.access_token;
  }

  private async send(method: string, pathAndQuery: string, opts: { json?: unknown; form?: Record<string, string> }, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth && this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(opts.form).toString();
    } else if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    return fetch(`${this.target}${pathAndQuery}`, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.timeoutMs),
      dispatcher: this.agent,
    } as RequestInit);
  }

  private async readBody(res: Response, callName: string): Promise<string> {
    try {
      return await res.text();
    } catch (err) {
      throw this.networkFailure(err, callName).error;
    }
  }

  /** What a failed fetch means for the user, and whether no answer at all came (so a retry is safe). */
  private networkFailure(err: unknown, callName: string): { error: HookctlError; retry: boolean } {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      return { retry: false, error: new HookctlError(`${this.target} did not answer ${callName} within ${this.timeoutMs / 1000}s`, ExitCode.runtime, 'check that the server is up, or raise --fides-timeout') };
    }
    const code = e.cause?.code ?? '';
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
      const what = code === 'ECONNREFUSED' ? 'connection refused' : 'connection reset before an answer';
      return { retry: true, error: new HookctlError(`cannot reach ${this.target} (${callName}): ${what}`, ExitCode.runtime, 'check --fides-url and that the server is up') };
    }
    if (/CERT|SSL|TLS|ERR_SSL/i.test(code) || /certificate|ssl|tls/i.test(e.cause?.message ?? '')) {
      return {
        retry: false,
        error: new HookctlError(`TLS with ${this.target} failed (${callName}): ${code || 'handshake error'}`, ExitCode.runtime, 'check that the server speaks https with a certificate this machine trusts (NODE_EXTRA_CA_CERTS adds a CA)'),
      };
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      return { retry: false, error: new HookctlError(`cannot reach ${this.target} (${callName}): host not found`, ExitCode.runtime, 'check --fides-url') };
    }
    return { retry: false, error: new HookctlError(`cannot reach ${this.target} (${callName}): ${code || e.cause?.message || e.message}`, ExitCode.runtime, 'check --fides-url and that the server is up') };
  }

  private refused(callName: string, status: number, detail: string): HookctlError {
    return new HookctlError(
      `the Fides server ${this.target} refused the credentials (${callName}: ${status}${detail ? ` ${detail}` : ''})`,
      ExitCode.runtime,
      `set HOOKCTL_FIDES_CLIENT_ID and HOOKCTL_FIDES_CLIENT_SECRET (or HOOKCTL_FIDES_TOKEN) for a client with the scopes ${REQUIRED_SCOPES.join(', ')}`,
    );
  }

  private parseJson(text: string, contentType: string | null, callName: string): unknown {
    if (!contentType?.includes('json')) throw this.unexpected(callName, `a ${contentType?.split(';')[0] || 'untyped'} answer, not JSON`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw this.unexpected(callName, 'a body that is not JSON');
    }
  }

  check(schema: SchemaName, value: unknown, callName: string): void {
    const validate = validators()[schema];
    if (validate(value)) return;
    const first = validate.errors?.[0];
    throw this.unexpected(callName, `a body of the wrong shape (${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'})`);
  }

  private unexpected(callName: string, what: string): HookctlError {
    return new HookctlError(`unexpected answer from ${this.target} to ${callName}: ${what}`, ExitCode.runtime, 'is --fides-url a Fides server (not a proxy or login page)?');
  }
}

/** The server's own message: Fides puts it in `detail` (a string, or pydantic's list of errors). */
function serverDetail(text: string): string {
  let detail: unknown;
  try {
    detail = (JSON.parse(text) as { detail?: unknown }).detail;
  } catch {
    return '';
  }
  if (typeof detail === 'string') return detail.slice(0, 300);
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join('.')}: ${d.msg ?? ''}`)
      .join('; ')
      .slice(0, 300);
  }
  return '';
}

function retryDelay(retryAfter: string | null, attempt: number): number {
  const backoff = BACKOFF_MS * 2 ** (attempt - 1);
  if (!retryAfter) return backoff;
  const seconds = Number(retryAfter);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : backoff;
}

let compiled: Record<SchemaName, ValidateFunction> | undefined;

function validators(): Record<SchemaName, ValidateFunction> {
  if (compiled) return compiled;
  const dir = shippedSchemaDir('fides', 'page.schema.json');
  const ajv = new Ajv({ allErrors: false, strict: false });
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as object);
  const names: SchemaName[] = ['health', 'token', 'page', 'connection', 'policy', 'webhook', 'bulk', 'secret-put', 'webhook-list'];
  compiled = Object.fromEntries(names.map((n) => [n, ajv.getSchema(`${n}.schema.json`)!])) as Record<SchemaName, ValidateFunction>;
  return compiled;
}
