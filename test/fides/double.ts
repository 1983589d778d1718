/**
 * A small test double of a Fides 2.8x server (or, with `version: null`, a fidesops 1.x one): the
 * parts of its HTTP API that a configuration client uses, reproducing the upstream behaviours
 * that shape such a client. Each behaviour names the section of
 * /work/shared/reference/fides-remote-api.md (R §n) or fides-policy-webhooks.md (REF §n) it
 * reproduces. Not reproduced: rules/targets endpoints, webhook PATCH/DELETE of one item,
 * privacy-request execution, rate limiting.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keyFromName } from '../../src/model/keys.js';

export const MASK = '**********';

/** Every scope a remote apply uses (R §1.6). */
export const REMOTE_APPLY_SCOPES = [
  'connection:read',
  'connection:create_or_update',
  'connection:delete',
  'policy:read',
  'policy:create_or_update',
  'policy:delete',
  'webhook:read',
  'webhook:create_or_update',
  'webhook:delete',
];

type Json = Record<string, unknown>;
type Phase = 'pre' | 'post';

interface Connection {
  key: string;
  name: string | null;
  description: string | null;
  connection_type: string;
  access: string;
  disabled: boolean;
  secrets: Json | null;
  created_at: string;
  updated_at: string;
}
interface Policy {
  key: string;
  name: string;
  drp_action: string | null;
  execution_timeframe: number | null;
  rules: Json[];
  seq: number;
}
interface WebhookRow {
  key: string;
  name: string | null;
  policy: string;
  connection: string;
  direction: string;
  order: number;
}

export interface FidesDoubleOptions {
  /** `/health`'s version; null = fidesops (no version, `/api/v1/policy` paths). Default 2.84.2. */
  version?: string | null;
  /** The scopes of the one OAuth client (default: REMOTE_APPLY_SCOPES). */
  scopes?: string[];
  /** Lifetime of the tokens it issues (default 8 days, R §1.3). */
  tokenTtlSeconds?: number;
}

export interface FidesDouble {
  url: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}
const detail = (status: number, text: string) => new HttpError(status, { detail: text });

/** Sensitive secret fields by connection type (R §2.4: masked whatever their value). */
const SENSITIVE: Record<string, string[]> = { https: ['authorization', 'headers'], postgres: ['password'] };
/** Required https secrets, checked for truthiness (R §2.4). */
const HTTPS_REQUIRED = ['url', 'authorization'];

export async function startDoubleServer(opts: FidesDoubleOptions = {}): Promise<FidesDouble> {
  const version = opts.version === undefined ? '2.84.2' : opts.version;
  const fidesops = version === null;
  const [major, minor] = (version ?? '1.0').split('.').map((n) => parseInt(n, 10)) as [number, number];
  const hasPolicyDelete = !fidesops && (major > 2 || (major === 2 && minor >= 80));
  const clientId = `double-client-${crypto.randomBytes(4).toString('hex')}`;
  const clientSecret = crypto.randomBytes(18).toString('base64url');
  const scopes = opts.scopes ?? REMOTE_APPLY_SCOPES;
  const ttl = opts.tokenTtlSeconds ?? 11520 * 60;
  const tokens = new Map<string, { scopes: string[]; expires: number }>();
  const now = () => new Date().toISOString();
  let seq = 0;

  // A postgres connection that a client must never read into its plan or touch (R §2.1 type filter).
  const connections = new Map<string, Connection>([
    [
      'app_postgres',
      { key: 'app_postgres', name: 'Application database', description: null, connection_type: 'postgres', access: 'write', disabled: false, secrets: { host: 'db', port: 5432, dbname: 'app', username: 'fides', password: 'pg-password-never-shown' }, created_at: now(), updated_at: now() },
    ],
  ]);
  // Seeded at every startup (R §3.5); one with rules and a drp_action (R §3.2).
  const policies = new Map<string, Policy>([
    ['default_access_policy', { key: 'default_access_policy', name: 'Default Access Policy', drp_action: 'access', execution_timeframe: 45, rules: [rule('default_access_policy_rule', 'access')], seq: seq++ }],
    ['default_erasure_policy', { key: 'default_erasure_policy', name: 'Default Erasure Policy', drp_action: null, execution_timeframe: null, rules: [rule('default_erasure_policy_rule', 'erasure')], seq: seq++ }],
  ]);
  const webhooks: Record<Phase, WebhookRow[]> = { pre: [], post: [] };
  const usedPolicies = new Set<string>();

  function authorize(req: http.IncomingMessage, scope: string): void {
    // R §1.2: 401 without a Bearer; 403 for a bad or expired token; 403 naming the scope when it lacks it.
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) throw new HttpError(401, { detail: 'Failed to authenticate' });
    const token = tokens.get(m[1]!);
    if (!token || token.expires <= Date.now()) throw detail(403, 'Not Authorized for this action');
    if (!token.scopes.includes(scope)) throw detail(403, fidesops ? 'Not Authorized for this action' : `Not Authorized for this action. Required scope(s): [${scope}]`);
  }

  function page<T>(items: T[], query: URLSearchParams, present: (item: T) => unknown) {
    // R §2.5: page ≥ 1, size 1..100; Fides 2.x adds `pages` (R §6.2).
    const p = Number(query.get('page') ?? 1);
    const size = Number(query.get('size') ?? 50);
    if (!Number.isInteger(p) || p < 1 || !Number.isInteger(size) || size < 1 || size > 100) throw new HttpError(422, { detail: [{ loc: ['query', 'size'], msg: 'invalid page or size', type: 'value_error' }] });
    const body: Json = { items: items.slice((p - 1) * size, p * size).map(present), total: items.length, page: p, size };
    if (!fidesops) body.pages = Math.ceil(items.length / size);
    return body;
  }

  function presentConnection(c: Connection) {
    // R §2.3 fields; R §2.4 secrets masked per type (none before 2.17, as for fidesops).
    const masked = c.secrets === null ? null : Object.fromEntries(Object.entries(c.secrets).map(([k, v]) => [k, (SENSITIVE[c.connection_type] ?? []).includes(k) ? MASK : v]));
    return {
      name: c.name, key: c.key, description: c.description, connection_type: c.connection_type, access: c.access, disabled: c.disabled,
      created_at: c.created_at, updated_at: c.updated_at, last_test_timestamp: null, last_test_succeeded: null, saas_config: null,
      ...(!fidesops && { secrets: masked, authorized: false, enabled_actions: null, linked_systems: [] }),
    };
  }
  const presentPolicy = (p: Policy) => ({ name: p.name, key: p.key, drp_action: p.drp_action, execution_timeframe: p.execution_timeframe, rules: p.rules, conditions: [] });
  const presentWebhook = (w: WebhookRow) => ({ direction: w.direction, key: w.key, name: w.name, connection_config: presentConnection(connections.get(w.connection)!), order: w.order });

  function requirePolicy(key: string): Policy {
    const policy = policies.get(key);
    if (!policy) throw detail(404, `No Policy found for key ${key}.`); // REF §2
    return policy;
  }

  function patchConnections(body: unknown) {
    if (!Array.isArray(body)) throw new HttpError(422, { detail: [{ loc: ['body'], msg: 'Input should be a valid list', type: 'list_type' }] });
    // R §2.2: at most 50 items.
    if (body.length > 50) throw new HttpError(422, { detail: [{ loc: ['body'], msg: `List should have at most 50 items after validation, not ${body.length}`, type: 'too_long' }] });
    const succeeded: unknown[] = [];
    const failed: unknown[] = [];
    // R §2.2: one item at a time, each committed on its own; a missing required field aborts with 422 after earlier items stayed.
    for (const [i, raw] of (body as Json[]).entries()) {
      for (const field of ['connection_type', 'access']) {
        if (raw[field] === undefined) throw new HttpError(422, { detail: [{ loc: ['body', i, field], msg: 'Field required', type: 'missing' }] });
      }
      const { secrets: _secrets, ...withoutSecrets } = raw;
      const key = typeof raw.key === 'string' ? raw.key : keyFromName(String(raw.name ?? ''));
      const existing = connections.get(key);
      // R §2.2: a key derived from the name that already exists is a per-item failure inside the 200.
      if (existing && typeof raw.key !== 'string') {
        failed.push({ message: `Key ${key} already exists in ConnectionConfig. Key must be unique.`, data: withoutSecrets });
        continue;
      }
      // R §2.2: unknown fields are ignored; on update, falsy non-bool values are dropped (nothing can be cleared).
      const given = Object.fromEntries(
        ['name', 'description', 'connection_type', 'access', 'disabled'].filter((f) => raw[f] !== undefined && (typeof raw[f] === 'boolean' || raw[f])).map((f) => [f, raw[f]]),
      );
      const c: Connection = existing
        ? { ...existing, ...given, updated_at: now() }
        : { key, name: null, description: null, disabled: false, secrets: (raw.secrets as Json | undefined) ?? null, ...(given as Pick<Connection, 'connection_type' | 'access'>), created_at: now(), updated_at: now() };
      connections.set(key, c);
      succeeded.push(presentConnection(c));
    }
    return { succeeded, failed };
  }

  function putSecrets(key: string, body: unknown, verify: boolean) {
    const c = connections.get(key);
    // R §2.4: this 404 words it differently from GET's.
    if (!c) throw detail(404, `No connection config found with key ${key}`);
    const given = (body ?? {}) as Json;
    if (c.connection_type === 'https') {
      // R §2.4: required fields checked for truthiness; extra keys dropped; no URL validation.
      if (!HTTPS_REQUIRED.every((f) => given[f])) {
        throw new HttpError(422, { detail: [{ type: 'value_error', loc: ['body'], msg: "Value error, HttpsSchema must be supplied all of: ['url', 'authorization'].", url: 'https://errors.pydantic.dev/2/v/value_error' }] });
      }
      c.secrets = { url: given.url, authorization: given.authorization, headers: given.headers ?? null };
    } else {
      c.secrets = given;
    }
    c.updated_at = now(); // R §2.3: updated_at moves on a secrets change too.
    // R §2.4: https tests are always skipped; verify=false runs none (null).
    return { msg: `Secrets updated for ConnectionConfig with key: ${key}.`, test_status: verify ? 'skipped' : null, failure_reason: null };
  }

  function deleteConnection(key: string) {
    if (!connections.has(key)) throw detail(404, `No connection configuration found with key '${key}'.`);
    // R §2.7 (inference): a webhook's foreign key has no ON DELETE, so the delete fails in the database.
    if ([...webhooks.pre, ...webhooks.post].some((w) => w.connection === key)) throw new HttpError(500, 'Internal Server Error');
    connections.delete(key);
  }

  function patchPolicies(body: unknown) {
    if (!Array.isArray(body)) throw new HttpError(422, { detail: [{ loc: ['body'], msg: 'Input should be a valid list', type: 'list_type' }] });
    if (body.length > 50) throw new HttpError(422, { detail: [{ loc: ['body'], msg: `List should have at most 50 items after validation, not ${body.length}`, type: 'too_long' }] }); // R §3.3
    const succeeded: unknown[] = [];
    const failed: unknown[] = [];
    for (const [i, item] of (body as Json[]).entries()) {
      if (typeof item.name !== 'string') throw new HttpError(422, { detail: [{ loc: ['body', i, 'name'], msg: 'Field required', type: 'missing' }] });
      const drp = (item.drp_action as string | undefined) ?? null;
      const key = typeof item.key === 'string' ? item.key : keyFromName(item.name);
      const existing = typeof item.key === 'string' ? policies.get(key) : undefined;
      // R §3.3: an item without key takes the create path; its derived key or its name may collide.
      if (!existing && (policies.has(key) || [...policies.values()].some((p) => p.name === item.name))) {
        failed.push({ message: `Key ${key} already exists in Policy. Key must be unique.`, data: item });
        continue;
      }
      // R §3.3: drp_action is unique across policies.
      const holder = drp === null ? undefined : [...policies.values()].find((p) => p.drp_action === drp && p.key !== key);
      if (holder) {
        failed.push({ message: `DRP Action ${drp} already exists in policy ${holder.key}.`, data: item });
        continue;
      }
      // R §3.3: an update writes name, key, drp_action and execution_timeframe: an omitted one becomes null. Rules only on create.
      const policy: Policy = {
        key,
        name: item.name,
        drp_action: drp,
        execution_timeframe: (item.execution_timeframe as number | undefined) ?? null,
        rules: existing?.rules ?? ((item.rules as Json[] | undefined) ?? []),
        seq: existing?.seq ?? seq++,
      };
      policies.set(key, policy);
      succeeded.push(presentPolicy(policy));
    }
    return { succeeded, failed };
  }

  function deletePolicy(key: string) {
    requirePolicy(key);
    // R §3.4: any privacy request that ever used the policy blocks its deletion.
    if (usedPolicies.has(key)) throw detail(409, `Cannot delete policy ${key}: it is referenced by one or more privacy requests.`);
    // R §2.7 (inference): webhooks are not cascaded, so their foreign keys fail the delete.
    if ([...webhooks.pre, ...webhooks.post].some((w) => w.policy === key)) throw new HttpError(500, 'Internal Server Error');
    policies.delete(key);
  }

  function putWebhooks(policyKey: string, phase: Phase, body: unknown) {
    // REF §2.3, in its order: body (≤ 50), policy, duplicates, then item by item, then removals.
    if (!Array.isArray(body)) throw new HttpError(422, { detail: [{ loc: ['body'], msg: 'Input should be a valid list', type: 'list_type' }] });
    if (body.length > 50) throw new HttpError(422, { detail: [{ loc: ['body'], msg: `List should have at most 50 items after validation, not ${body.length}`, type: 'too_long' }] });
    for (const [i, item] of (body as Json[]).entries()) {
      for (const field of ['connection_config_key', 'direction']) if (item[field] === undefined) throw new HttpError(422, { detail: [{ loc: ['body', i, field], msg: 'Field required', type: 'missing' }] });
      if (!['one_way', 'two_way'].includes(item.direction as string)) throw new HttpError(422, { detail: [{ loc: ['body', i, 'direction'], msg: "Input should be 'one_way' or 'two_way'", type: 'enum' }] });
    }
    requirePolicy(policyKey);
    const items = (body as Json[]).map((item) => ({ connection_config_key: item.connection_config_key as string, direction: item.direction as string, key: typeof item.key === 'string' ? item.key : keyFromName(String(item.name ?? '')), name: (item.name as string | undefined) ?? null }));
    const keys = items.map((i) => i.key);
    const names = items.map((i) => i.name);
    if (new Set(keys).size < keys.length || new Set(names).size < names.length) throw detail(400, 'Check request body: there are multiple webhooks whose keys or names resolve to the same value.');
    const table = webhooks[phase];
    const cls = phase === 'pre' ? 'PolicyPreWebhook' : 'PolicyPostWebhook';
    let staged: WebhookRow[] = [];
    for (const [order, item] of items.entries()) {
      const connection = item.connection_config_key;
      // REF §2.3 5a: no type check, only existence. An error here drops what is only staged.
      if (!connections.has(connection)) throw detail(404, `No connection configuration found with key '${connection}'.`);
      const row = { key: item.key, name: item.name, policy: policyKey, connection, direction: item.direction, order };
      const existing = table.find((w) => w.key === item.key);
      if (existing) {
        // REF §2.3 5b: the key is looked up across all policies (a webhook can move here); the update commits
        // the session, staged creates included; a name clash here is a database error (500).
        if (table.some((w) => w !== existing && w.name === row.name)) throw new HttpError(500, 'Internal Server Error');
        Object.assign(existing, row);
        table.push(...staged);
        staged = [];
      } else {
        // REF §2.3 5b: names are checked before anything is removed, across the whole table.
        if ([...table, ...staged].some((w) => w.name === row.name)) throw detail(400, `Name ${row.name} already exists in ${cls}.`);
        staged.push(row);
      }
    }
    table.push(...staged);
    // REF §2.3 step 6: this policy's other webhooks of this phase go.
    webhooks[phase] = table.filter((w) => w.policy !== policyKey || keys.includes(w.key));
    return items.map((item) => presentWebhook(webhooks[phase].find((w) => w.key === item.key)!));
  }

  function issueToken(req: http.IncomingMessage, raw: string) {
    // R §1.1: form-encoded only (a JSON body reads as an empty form: 401); HTTP Basic also accepted.
    const form = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(raw) : new URLSearchParams();
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if ((!id || !secret) && basic) [id, secret] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':', 2) as [string, string];
    if (form.get('grant_type') && form.get('grant_type') !== 'client_credentials') throw new HttpError(422, { detail: [{ loc: ['body', 'grant_type'], msg: "String should match pattern '^client_credentials$'", type: 'string_pattern_mismatch' }] });
    if (id !== clientId || secret !== clientSecret) throw detail(401, 'Authentication Failure');
    const token = crypto.randomBytes(24).toString('base64url');
    tokens.set(token, { scopes: [...scopes], expires: Date.now() + ttl * 1000 });
    // R §1.1: token_type since 2.76, expires_in/expires_at since 2.79.
    return { access_token: token, token_type: 'Bearer', expires_in: ttl, expires_at: new Date(Date.now() + ttl * 1000).toISOString().replace('Z', '') };
  }

  async function route(req: http.IncomingMessage, raw: string): Promise<[number, unknown]> {
    const url = new URL(req.url ?? '/', 'http://double');
    // R §0: every route also answers with a trailing slash.
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
    const method = req.method ?? 'GET';
    const json = () => {
      try {
        return raw === '' ? undefined : (JSON.parse(raw) as unknown);
      } catch {
        throw new HttpError(422, { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
      }
    };
    // R §6.1: /health at the root; fidesops has no version.
    if (path === '/health' && method === 'GET') return [200, fidesops ? { webserver: 'healthy', database: 'healthy', cache: 'healthy' } : { webserver: 'healthy', version, cache: 'skipped' }];
    if (path === '/api/v1/oauth/token' && method === 'POST') return [200, issueToken(req, raw)];

    if (path === '/api/v1/connection') {
      if (method === 'GET') {
        authorize(req, 'connection:read');
        // R §2.1: repeatable connection_type filter (OR); sorted by name ascending.
        const types = url.searchParams.getAll('connection_type');
        const list = [...connections.values()].filter((c) => types.length === 0 || types.includes(c.connection_type)).sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.key.localeCompare(b.key));
        return [200, page(list, url.searchParams, presentConnection)];
      }
      if (method === 'PATCH') {
        authorize(req, 'connection:create_or_update');
        return [200, patchConnections(json())];
      }
    }
    let m = /^\/api\/v1\/connection\/([^/]+)$/.exec(path);
    if (m) {
      const key = decodeURIComponent(m[1]!);
      if (method === 'GET') {
        authorize(req, 'connection:read');
        const c = connections.get(key);
        if (!c) throw detail(404, `No connection configuration found with key '${key}'.`);
        return [200, { ...presentConnection(c), system_key: c.name }]; // R §2.3: system_key falls back to the name
      }
      if (method === 'DELETE') {
        authorize(req, 'connection:delete');
        deleteConnection(key);
        return [204, undefined]; // R §2.1
      }
    }
    m = /^\/api\/v1\/connection\/([^/]+)\/secret$/.exec(path);
    if (m && method === 'PUT') {
      authorize(req, 'connection:create_or_update');
      return [200, putSecrets(decodeURIComponent(m[1]!), json(), url.searchParams.get('verify') !== 'false')];
    }

    // R §3.1 / §6.2: DSR policies live under /dsr/policy in 2.x, under /policy in fidesops (and nowhere else).
    const policyPrefix = fidesops ? '/api/v1/policy' : '/api/v1/dsr/policy';
    if (path === policyPrefix) {
      if (method === 'GET') {
        authorize(req, 'policy:read');
        // R §2.5: newest first.
        return [200, page([...policies.values()].sort((a, b) => b.seq - a.seq), url.searchParams, presentPolicy)];
      }
      if (method === 'PATCH') {
        authorize(req, 'policy:create_or_update');
        return [200, patchPolicies(json())];
      }
    }
    if (path.startsWith(`${policyPrefix}/`)) {
      const rest = path.slice(policyPrefix.length + 1).split('/');
      const policyKey = decodeURIComponent(rest[0]!);
      if (rest.length === 1 && method === 'GET') {
        authorize(req, 'policy:read');
        return [200, presentPolicy(requirePolicy(policyKey))];
      }
      if (rest.length === 1 && method === 'DELETE') {
        // R §3.4 / §6.2: DELETE exists from 2.80 only.
        if (!hasPolicyDelete) return [405, { detail: 'Method Not Allowed' }];
        authorize(req, 'policy:delete');
        deletePolicy(policyKey);
        return [204, undefined];
      }
      if (rest.length === 3 && rest[1] === 'webhook' && (rest[2] === 'pre_execution' || rest[2] === 'post_execution')) {
        const phase: Phase = rest[2] === 'pre_execution' ? 'pre' : 'post';
        if (method === 'GET') {
          authorize(req, 'webhook:read');
          requirePolicy(policyKey);
          // R §4: sorted by order.
          return [200, page(webhooks[phase].filter((w) => w.policy === policyKey).sort((a, b) => a.order - b.order), url.searchParams, presentWebhook)];
        }
        if (method === 'PUT') {
          authorize(req, 'webhook:create_or_update');
          return [200, putWebhooks(policyKey, phase, json())];
        }
      }
    }
    // R §5.1: a request made without identity verification; it marks its policy as used (R §3.4).
    if (path === '/api/v1/privacy-request/authenticated' && method === 'POST') {
      authorize(req, 'privacy-request:create');
      const items = (json() ?? []) as Json[];
      const succeeded: unknown[] = [];
      const failed: unknown[] = [];
      for (const item of items) {
        const key = item.policy_key as string;
        if (!policies.has(key)) failed.push({ message: `Policy with key ${key} does not exist`, data: item });
        else {
          usedPolicies.add(key);
          succeeded.push({ id: `pri_${crypto.randomUUID()}`, status: 'pending', policy: presentPolicy(policies.get(key)!) });
        }
      }
      return [200, { succeeded, failed }];
    }
    // R §4: no alias for the other prefix; FastAPI answers 404 Not Found.
    return [404, { detail: 'Not Found' }];
  }

  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      route(req, raw).then(
        ([status, body]) => send(res, status, body),
        (err: unknown) => (err instanceof HttpError ? send(res, err.status, err.body, err.status === 401 && (err.body as Json).detail === 'Failed to authenticate') : send(res, 500, 'Internal Server Error')),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId,
    clientSecret,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

function rule(key: string, action_type: string): Json {
  return { name: key, key, action_type, storage_destination: null, masking_strategy: null };
}

function send(res: http.ServerResponse, status: number, body: unknown, challenge = false): void {
  if (challenge) res.setHeader('WWW-Authenticate', 'Bearer');
  if (body === undefined) return void res.writeHead(status).end();
  // FastAPI's plain 500 is text, not JSON.
  if (typeof body === 'string') return void res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
