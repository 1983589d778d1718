/**
 * HTTPS connections and their secrets. Secrets are write-only: encrypted at rest with keyed
 * fingerprints beside them, and no response, log line or revision ever carries a value.
 */
import type { FastifyInstance } from 'fastify';
import { PHASES, SECRET_FIELDS, type ConnectionConfig, type HttpsSecrets } from '../../model/types.js';
import { apiError, ConnectionInUseError, ITEM_PROBLEMS } from '../../model/errors.js';
import { resolveKey, type KeyResolution } from '../../model/keys.js';
import { checkSecretValue } from '../../model/secrets.js';
import { connectionConfig, connectionFieldChanges, type FieldChange, type ResourceChange } from '../../model/changes.js';
import { connectionUsers } from '../../model/connection-users.js';
import { encryptJson } from '../../state/crypto.js';
import {
  deleteConnections,
  fingerprintSecrets,
  readConnections,
  refreshFingerprints,
  upsertConnections,
  type ConnectionWrite,
  type StoredConnection,
  type StoredState,
} from '../../state/config-store.js';
import { presentConnectionDetail } from '../present.js';
import { PAGE_QUERY, paginate, type PageQuery } from '../pagination.js';
import { apiActor, writeState } from '../state-writes.js';
import { bodySchema, fidesKeyParams, RequestValidationError } from '../validation.js';
import type { ServerDeps } from '../deps.js';

interface ConnectionPatchItem {
  key?: string;
  name: string;
  connection_type: string;
  access?: ConnectionConfig['access'];
  description?: string | null;
  disabled?: boolean;
  timeout_ms?: number | null;
}

export async function connectionRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db, keys } = deps;
  const keyParams = fidesKeyParams('connection_key');

  app.get<{ Querystring: PageQuery & { connection_type?: string[] } }>('/connection', { config: { auth: 'connection:read' }, schema: { summary: 'List connections', querystring: CONNECTION_LIST_QUERY } }, async (req) => {
    const connections = await readConnections(db.knex);
    const types = req.query.connection_type;
    const sorted = [...connections.values()].filter((c) => !types || types.includes(c.connection_type)).sort((a, b) => compare(a.name, b.name) || compare(a.key, b.key));
    return paginate(sorted, req.query, presentConnectionDetail);
  });

  app.patch<{ Body: ConnectionPatchItem[] }>(
    '/connection',
    { config: { auth: 'connection:create_or_update' }, schema: { summary: 'Create or update connections', body: bodySchema('connection-patch') } },
    async (req) =>
      writeState(deps, apiActor(req), async ({ trx, state, now }) => {
        const succeeded: ReturnType<typeof presentConnectionDetail>[] = [];
        const failed: { message: string; data: ConnectionPatchItem }[] = [];
        const writes: ConnectionWrite[] = [];
        const changes: ResourceChange[] = [];
        const seen = new Set<string>();
        for (const item of req.body) {
          const { key, problem } = connectionKey(item, seen);
          if (problem !== undefined) {
            failed.push({ message: problem, data: item });
            continue;
          }
          seen.add(key);
          const before = state.connections.get(key);
          const config = mergeConnection(key, item, before);
          const fields = connectionFieldChanges(config, before);
          const changed = !before || fields.length > 0;
          if (changed) {
            writes.push({ config, origin: 'api' });
            changes.push({ kind: 'connection', action: before ? 'update' : 'create', key, fields });
          }
          succeeded.push(presentConnectionDetail({ ...config, created_at: before?.created_at ?? now, updated_at: changed ? now : before.updated_at }));
        }
        await upsertConnections(trx, writes, now);
        return { result: { succeeded, failed }, changes };
      }),
  );

  app.get<{ Params: { connection_key: string } }>(
    '/connection/:connection_key',
    { config: { auth: 'connection:read' }, schema: { summary: 'Get a connection', params: keyParams } },
    async (req) => presentConnectionDetail(requireConnection(await readConnections(db.knex), req.params.connection_key)),
  );

  app.delete<{ Params: { connection_key: string } }>(
    '/connection/:connection_key',
    { config: { auth: 'connection:delete' }, schema: { summary: 'Delete a connection that no webhook uses', params: keyParams } },
    async (req, reply) => {
      await writeState(deps, apiActor(req), async ({ trx, state }) => {
        const key = req.params.connection_key;
        requireConnection(state.connections, key);
        refuseWhileUsed(state, key);
        await deleteConnections(trx, [key]);
        return { result: undefined, changes: [{ kind: 'connection', action: 'delete', key, fields: [] }] };
      });
      return reply.code(204).send();
    },
  );

  app.put<{ Params: { connection_key: string }; Body: HttpsSecrets; Querystring: { verify: boolean } }>(
    '/connection/:connection_key/secret',
    { config: { auth: 'connection:create_or_update' }, schema: { summary: "Set a connection's secrets (url, authorization)", params: keyParams, querystring: VERIFY_QUERY, body: bodySchema('connection-secret') } },
    async (req) => {
      const key = req.params.connection_key;
      const secrets: HttpsSecrets = { url: req.body.url, authorization: req.body.authorization };
      await writeState(deps, apiActor(req), async ({ trx, state, now }) => {
        const before = requireConnection(state.connections, key);
        // After the 404: an unknown connection is reported as such whatever the body holds.
        const problems = SECRET_FIELDS.flatMap((field) => {
          const reason = checkSecretValue(field, secrets[field]);
          if (!reason) return [];
          // Fides stores any URL here and fails when the webhook runs; hookctl refuses it now.
          if (field === 'url') return [{ loc: ['body', field], msg: `${reason}; webhook URLs are checked when they are set, not when a privacy request calls them`, type: 'value_error.url' }];
          return [{ loc: ['body', field], msg: reason, type: 'value_error' }];
        });
        if (problems.length > 0) throw new RequestValidationError(problems);
        refreshFingerprints(keys, new Map([[key, before]]));
        const fingerprints = fingerprintSecrets(keys, key, secrets);
        const fields: FieldChange[] = SECRET_FIELDS
          .filter((f) => before.secret_fingerprints[f] !== fingerprints[f])
          .map((f) => ({ field: `secrets.${f}`, sensitive: true }));
        if (fields.length === 0) return { result: undefined, changes: [] };
        await upsertConnections(trx, [{ config: connectionConfig(before), secrets: { encrypted: encryptJson(keys.secrets, secrets), fingerprints } }], now);
        return { result: undefined, changes: [{ kind: 'connection', action: 'update', key, fields }] };
      });
      // As upstream: the https connection test is always skipped, and not run at all with verify=false.
      return { msg: `Secrets updated for ConnectionConfig with key: ${key}.`, test_status: req.query.verify ? 'skipped' : null, failure_reason: null };
    },
  );
}

/** `connection_type` (repeatable): only connections of those types, as Fides filters them. */
const CONNECTION_LIST_QUERY = {
  type: 'object',
  properties: { ...PAGE_QUERY.properties, connection_type: { type: 'array', items: { type: 'string' } } },
} as const;

const VERIFY_QUERY = { type: 'object', properties: { verify: { type: 'boolean', default: true } } } as const;

function requireConnection(connections: Map<string, StoredConnection>, key: string): StoredConnection {
  const c = connections.get(key);
  if (!c) throw apiError('connection_not_found', key);
  return c;
}

function refuseWhileUsed(state: StoredState, key: string): void {
  const users = connectionUsers(PHASES.flatMap((phase) => [...state.webhooks[phase].values()].flat()), new Set([key]));
  if (users.length > 0) throw new ConnectionInUseError('delete', users);
}

/** The key of an item of PATCH /connection, or why the item cannot be written (it goes to `failed`). */
function connectionKey(item: ConnectionPatchItem, seen: Set<string>): KeyResolution {
  if (item.connection_type !== 'https') return { problem: ITEM_PROBLEMS.unsupportedConnectionType(item.connection_type) };
  const { key, problem } = resolveKey(item);
  if (problem !== undefined) return { problem: ITEM_PROBLEMS.invalidKey(problem) };
  if (seen.has(key)) return { problem: ITEM_PROBLEMS.repeatedKey('connection', key) };
  return { key };
}

/** PATCH: the fields given replace the stored ones; the others keep their values (or defaults). */
function mergeConnection(key: string, item: ConnectionPatchItem, before: StoredConnection | undefined): ConnectionConfig {
  return {
    key,
    name: item.name,
    connection_type: 'https',
    access: item.access ?? before?.access ?? 'read',
    description: item.description !== undefined ? item.description : (before?.description ?? null),
    disabled: item.disabled ?? before?.disabled ?? false,
    timeout_ms: item.timeout_ms !== undefined ? item.timeout_ms : (before?.timeout_ms ?? null),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
