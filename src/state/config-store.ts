/**
 * The stored configuration: connections, policies, webhook lists and the serial, read as one
 * snapshot and written in batches inside the caller's transaction (see lock.ts).
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { ExitCode, HookctlError } from '../errors.js';
import {
  PHASES,
  type ConnectionConfig,
  type HttpsSecrets,
  type Origin,
  type Phase,
  type Policy,
  type StoredWebhook,
  type Webhook,
} from '../model/types.js';
import { connectionUsers } from '../model/connection-users.js';
import { compareKeys } from '../model/keys.js';
import { ConnectionInUseError } from '../model/errors.js';
import { decryptJson, SECRET_FINGERPRINT_PREFIX, secretFingerprint } from './crypto.js';
import type { Keys } from './keys.js';
import { inSnapshot, type Queryable } from './queryable.js';
import { inList, insertRows, onConflictUpdate, selectAsJson, selectJsonRows, type Column } from './bulk-sql.js';

export type SecretFingerprints = Partial<Record<keyof HttpsSecrets, string>>;

export interface StoredConnection extends ConnectionConfig {
  origin: Origin;
  secrets_encrypted: string | null;
  secret_fingerprints: SecretFingerprints;
  created_at: string;
  updated_at: string;
}

export interface StoredPolicy extends Policy {
  origin: Origin;
  created_at: string;
  updated_at: string;
}

export interface StoredState {
  serial: number;
  /** Random id of this state database (saved plans are bound to it). */
  state_id: string;
  /** By key, in code-unit order of the keys (the same on both backends). */
  connections: Map<string, StoredConnection>;
  /** By key, in code-unit order of the keys. */
  policies: Map<string, StoredPolicy>;
  /**
   * Per phase, by policy key: every stored policy has an entry (possibly empty), in policy
   * order; each list is in webhook order, and `order` is the position 0..n-1.
   */
  webhooks: Record<Phase, Map<string, StoredWebhook[]>>;
}

/**
 * Everything in four statements. Given a bare Knex, they run in one read transaction (a
 * snapshot on both backends), so a serial is never paired with rows of another revision.
 */
export async function readState(q: Queryable, scope: StateScope = {}): Promise<StoredState> {
  if (q.isTransaction) return readStateIn(q, scope);
  return inSnapshot(q, (trx) => readStateIn(trx, scope));
}

/**
 * `policy`: only that policy and its lists (plus every connection): a partial state for reads
 * of one policy, which should not cost a scan of every webhook. Never a basis for writes:
 * keys and names are unique across all policies.
 */
export interface StateScope {
  policy?: string;
}

/** All connections, by key (in code-unit order). */
export async function readConnections(q: Queryable): Promise<Map<string, StoredConnection>> {
  const rows: ConnectionRow[] = await q('connections').select();
  return new Map(rows.sort(compareKeys).map((row) => [row.key, toStoredConnection(row)]));
}

/** Policies by key (in code-unit order); with `only`, that one policy if it exists. */
export async function readPolicies(q: Queryable, only?: string): Promise<Map<string, StoredPolicy>> {
  const query = q('policies').select('key', 'name', 'origin', 'created_at', 'updated_at');
  const rows: StoredPolicy[] = await (only === undefined ? query : query.where({ key: only }));
  return new Map(rows.sort(compareKeys).map((p) => [p.key, p]));
}

/**
 * What Fides keeps on a policy beside its name, for DSR clients (the data rights protocol action
 * and the deadline in days). Only the API sets them: manifests and applies never read or write them.
 */
export interface PolicyDsrFields {
  drp_action: string | null;
  execution_timeframe: number | null;
}

/** `readPolicies` with each policy's DSR fields, for the API's policy responses. */
export async function readDsrPolicies(q: Queryable, only?: string): Promise<Map<string, StoredPolicy & PolicyDsrFields>> {
  const query = q('policies').select('key', 'name', 'origin', 'created_at', 'updated_at', 'drp_action', 'execution_timeframe');
  const rows: (StoredPolicy & PolicyDsrFields)[] = await (only === undefined ? query : query.where({ key: only }));
  return new Map(rows.sort(compareKeys).map((p) => [p.key, { ...p, execution_timeframe: p.execution_timeframe === null ? null : Number(p.execution_timeframe) }]));
}

/** Whether any privacy request, in any status, was made under the policy. */
export async function policyHasPrivacyRequests(q: Queryable, policyKey: string): Promise<boolean> {
  return (await q('privacy_requests').where({ policy_key: policyKey }).first('id')) !== undefined;
}

const STORED_WEBHOOK_FIELDS: [keyof StoredWebhook, string][] = [
  ['id', 'id'],
  ['policy_key', 'policy_key'],
  ['phase', 'phase'],
  ['key', 'key'],
  ['name', 'name'],
  ['connection_config_key', 'connection_key'],
  ['direction', 'direction'],
  ['order', 'position'],
];

async function readStateIn(q: Queryable, scope: StateScope): Promise<StoredState> {
  const meta: { name: string; value: string }[] = await q('hookctl_meta').whereIn('name', ['serial', 'state_id']).select('name', 'value');
  const metaValue = (name: string) => meta.find((m) => m.name === name)?.value;
  const serial = Number(metaValue('serial'));
  const state_id = metaValue('state_id');
  if (metaValue('serial') === undefined || state_id === undefined) throw noSerial();
  const connections = await readConnections(q);
  const policies = await readPolicies(q, scope.policy);
  const webhookQuery = scope.policy === undefined ? q('webhooks') : q('webhooks').where({ policy_key: scope.policy });
  const webhookRows = await selectAsJson<StoredWebhook>(q, webhookQuery, STORED_WEBHOOK_FIELDS, 'policy_key, phase, position');

  const webhooks = { pre: new Map(), post: new Map() } as StoredState['webhooks'];
  for (const phase of PHASES) for (const key of policies.keys()) webhooks[phase].set(key, []);
  // The foreign key guarantees that each webhook's policy is there.
  for (const hook of webhookRows) webhooks[hook.phase].get(hook.policy_key)!.push(hook);
  return { serial, state_id, connections, policies, webhooks };
}

export async function readSerial(q: Queryable): Promise<number> {
  const row: { value: string } | undefined = await q('hookctl_meta').where({ name: 'serial' }).first('value');
  if (!row) throw noSerial();
  return Number(row.value);
}

/** Increments the serial in one statement and returns the new value. */
export async function bumpSerial(trx: Knex.Transaction): Promise<number> {
  const [row]: { value: string }[] = await trx('hookctl_meta')
    .where({ name: 'serial' })
    .update({ value: trx.raw('CAST(CAST(value AS INTEGER) + 1 AS TEXT)') }, ['value']);
  if (!row) throw noSerial();
  return Number(row.value);
}

export interface ConnectionWrite {
  config: ConnectionConfig;
  /** Only used when the connection is created; an update keeps the stored origin. */
  origin?: Origin;
  /** Omitted: keep the stored secrets. */
  secrets?: { encrypted: string; fingerprints: SecretFingerprints };
}

const CONNECTION_COLUMNS: Column[] = [
  ['key', 'text'],
  ['name', 'text'],
  ['connection_type', 'text'],
  ['access', 'text'],
  ['description', 'text'],
  ['disabled', 'boolean'],
  ['timeout_ms', 'integer'],
  ['secrets_encrypted', 'text'],
  ['secret_fingerprints', 'text'],
  ['origin', 'text'],
  ['created_at', 'text'],
  ['updated_at', 'text'],
];
/** Updated when a connection exists already: not its key, origin or created_at. */
const CONNECTION_FIELDS = ['name', 'connection_type', 'access', 'description', 'disabled', 'timeout_ms', 'updated_at'];

export async function upsertConnections(trx: Knex.Transaction, writes: ConnectionWrite[], now: string): Promise<void> {
  const row = ({ config: c, origin, secrets }: ConnectionWrite) => [
    c.key,
    c.name,
    c.connection_type,
    c.access,
    c.description,
    c.disabled,
    c.timeout_ms,
    secrets?.encrypted ?? null,
    secrets ? JSON.stringify(secrets.fingerprints) : null,
    origin ?? 'manifest',
    now,
    now,
  ];
  const withSecrets = writes.filter((w) => w.secrets);
  const keepingSecrets = writes.filter((w) => !w.secrets);
  await insertRows(trx, 'connections', CONNECTION_COLUMNS, withSecrets.map(row), onConflictUpdate([...CONNECTION_FIELDS, 'secrets_encrypted', 'secret_fingerprints']));
  await insertRows(trx, 'connections', CONNECTION_COLUMNS, keepingSecrets.map(row), onConflictUpdate(CONNECTION_FIELDS));
}

/** Refuses (and deletes nothing) while any webhook still uses one of the connections. */
export async function deleteConnections(trx: Knex.Transaction, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  // The index on connection_key finds the candidates; the model's rule decides.
  const candidates: Pick<StoredWebhook, 'phase' | 'policy_key' | 'key' | 'connection_config_key'>[] = await trx('webhooks')
    .whereRaw(...inList(trx, 'connection_key', keys))
    .orderBy(['connection_key', 'policy_key', 'phase', 'position'])
    .select('phase', 'policy_key', 'key', 'connection_key as connection_config_key');
  const users = connectionUsers(candidates, new Set(keys));
  if (users.length > 0) {
    const refusal = new ConnectionInUseError('delete', users);
    throw new HookctlError(refusal.line, ExitCode.invalid, refusal.hint);
  }
  await trx('connections').whereRaw(...inList(trx, 'key', keys)).del();
}

const POLICY_COLUMNS: Column[] = [
  ['key', 'text'],
  ['name', 'text'],
  ['origin', 'text'],
  ['created_at', 'text'],
  ['updated_at', 'text'],
];

export async function upsertPolicies(trx: Knex.Transaction, writes: { policy: Policy; origin?: Origin }[], now: string): Promise<void> {
  const rows = writes.map(({ policy, origin }) => [policy.key, policy.name, origin ?? 'manifest', now, now]);
  await insertRows(trx, 'policies', POLICY_COLUMNS, rows, onConflictUpdate(['name', 'updated_at']));
}

const DSR_POLICY_COLUMNS: Column[] = [...POLICY_COLUMNS, ['drp_action', 'text'], ['execution_timeframe', 'integer']];

/** API upserts: as Fides does, an update writes the DSR fields too (null when the item omits them). */
export async function upsertDsrPolicies(trx: Knex.Transaction, writes: { policy: Policy & PolicyDsrFields; origin: Origin }[], now: string): Promise<void> {
  const rows = writes.map(({ policy, origin }) => [policy.key, policy.name, origin, now, now, policy.drp_action, policy.execution_timeframe]);
  await insertRows(trx, 'policies', DSR_POLICY_COLUMNS, rows, onConflictUpdate(['name', 'drp_action', 'execution_timeframe', 'updated_at']));
}

/** Deletes the policies and their webhook lists. */
export async function deletePolicies(trx: Knex.Transaction, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await trx('webhooks').whereRaw(...inList(trx, 'policy_key', keys)).del();
  await trx('policies').whereRaw(...inList(trx, 'key', keys)).del();
}

export interface WebhookListWrite {
  policy_key: string;
  phase: Phase;
  /** The list as stored, read in this same transaction. */
  current: StoredWebhook[];
  /** The whole new list, in order. */
  next: Webhook[];
}

const WEBHOOK_COLUMNS: Column[] = [
  ['id', 'text'],
  ['phase', 'text'],
  ['policy_key', 'text'],
  ['key', 'text'],
  ['name', 'text'],
  ['connection_key', 'text'],
  ['direction', 'text'],
  ['position', 'integer'],
  ['created_at', 'text'],
  ['updated_at', 'text'],
];

/** Prefix of the names that renamed rows hold for a moment, so that names can swap. */
const RENAMING_PREFIX = '~hookctl-renaming~';

/**
 * Makes each (policy, phase) list exactly `next`, with order 0..n-1. A key in both `current`
 * and `next` keeps its row and id; keys gone are deleted; new keys get new rows (`pol_<uuid>`).
 * The unique (phase, key) and (phase, name) indexes are checked row by row, so the steps run
 * across all writes in this order: deletes (a key may move to another policy), renamed rows to
 * temporary unique names (names may swap), updates of rows that really change, inserts.
 * Returns the stored lists in the order of `writes`.
 */
export async function saveWebhookLists(trx: Knex.Transaction, writes: WebhookListWrite[], now: string): Promise<StoredWebhook[][]> {
  const deletedIds: string[] = [];
  const renamedIds: string[] = [];
  const changed: StoredWebhook[] = [];
  const created: StoredWebhook[] = [];

  const lists = writes.map(({ policy_key, phase, current, next }) => {
    const currentByKey = new Map(current.map((hook) => [hook.key, hook]));
    const nextKeys = new Set<string>();
    const list = next.map((hook, order): StoredWebhook => {
      if (nextKeys.has(hook.key)) {
        throw new HookctlError(`the ${phase} webhook list of policy '${policy_key}' has the key '${hook.key}' twice`, ExitCode.invalid);
      }
      nextKeys.add(hook.key);
      const before = currentByKey.get(hook.key);
      const { key, name, connection_config_key, direction } = hook;
      const stored = { id: before?.id ?? `pol_${crypto.randomUUID()}`, policy_key, phase, key, name, connection_config_key, direction, order };
      if (!before) created.push(stored);
      else if (before.name !== name || before.connection_config_key !== connection_config_key || before.direction !== direction || before.order !== order) {
        changed.push(stored);
        if (before.name !== name) renamedIds.push(before.id);
      }
      return stored;
    });
    for (const hook of current) if (!nextKeys.has(hook.key)) deletedIds.push(hook.id);
    return list;
  });

  if (deletedIds.length > 0) await trx('webhooks').whereRaw(...inList(trx, 'id', deletedIds)).del();
  if (renamedIds.length > 0) {
    await trx('webhooks').whereRaw(...inList(trx, 'id', renamedIds)).update({ name: trx.raw('? || id', [RENAMING_PREFIX]) });
  }
  await updateWebhooks(trx, changed, now);
  const rows = created.map((w) => [w.id, w.phase, w.policy_key, w.key, w.name, w.connection_config_key, w.direction, w.order, now, now]);
  await insertRows(trx, 'webhooks', WEBHOOK_COLUMNS, rows);
  return lists;
}

/** One UPDATE … FROM statement for all of them. */
async function updateWebhooks(trx: Knex.Transaction, hooks: StoredWebhook[], now: string): Promise<void> {
  if (hooks.length === 0) return;
  const changes = selectJsonRows(trx, [
    ['id', 'text'],
    ['name', 'text'],
    ['connection_key', 'text'],
    ['direction', 'text'],
    ['position', 'integer'],
  ]);
  await trx.raw(
    `UPDATE webhooks SET name = v.name, connection_key = v.connection_key, direction = v.direction, position = v.position, updated_at = ?
     FROM (${changes}) AS v WHERE webhooks.id = v.id`,
    [now, JSON.stringify(hooks.map((w) => [w.id, w.name, w.connection_config_key, w.direction, w.order]))],
  );
}

export function decryptConnectionSecrets(keys: Keys, conn: StoredConnection): HttpsSecrets | null {
  return conn.secrets_encrypted === null ? null : decryptJson<HttpsSecrets>(keys.secrets, conn.secrets_encrypted);
}

/** The keyed fingerprints of a connection's secrets (see secretFingerprint). */
export function fingerprintSecrets(keys: Keys, connection: string, secrets: HttpsSecrets): Required<SecretFingerprints> {
  return {
    url: secretFingerprint(keys.fingerprint, connection, 'url', secrets.url),
    authorization: secretFingerprint(keys.fingerprint, connection, 'authorization', secrets.authorization),
  };
}

/**
 * States written before fingerprints were bound to their connection and field hold the old
 * kind, which never equals a new one: compared as stored, every secret would look changed. No
 * migration can recompute them (it has no master key), so they are recomputed here, in memory,
 * from the decrypted secrets, before anything compares them. Returns the connections whose
 * fingerprints were recomputed; a write under the state lock may store them (storeFingerprints).
 */
export function refreshFingerprints(keys: Keys, connections: Map<string, StoredConnection>): Map<string, Required<SecretFingerprints>> {
  const refreshed = new Map<string, Required<SecretFingerprints>>();
  for (const conn of connections.values()) {
    const current = Object.values(conn.secret_fingerprints).every((fp) => fp?.startsWith(SECRET_FINGERPRINT_PREFIX));
    if (current && Object.keys(conn.secret_fingerprints).length > 0) continue;
    const secrets = decryptConnectionSecrets(keys, conn);
    if (!secrets) continue;
    const fingerprints = fingerprintSecrets(keys, conn.key, secrets);
    conn.secret_fingerprints = fingerprints;
    refreshed.set(conn.key, fingerprints);
  }
  return refreshed;
}

/** Replaces stored fingerprints (only that column; the secrets stay). */
export async function storeFingerprints(trx: Knex.Transaction, fingerprints: Map<string, SecretFingerprints>): Promise<void> {
  if (fingerprints.size === 0) return;
  const rows = selectJsonRows(trx, [
    ['key', 'text'],
    ['secret_fingerprints', 'text'],
  ]);
  await trx.raw(`UPDATE connections SET secret_fingerprints = v.secret_fingerprints FROM (${rows}) AS v WHERE connections.key = v.key`, [
    JSON.stringify([...fingerprints].map(([key, fp]) => [key, JSON.stringify(fp)])),
  ]);
}

interface ConnectionRow extends Omit<StoredConnection, 'disabled' | 'secret_fingerprints'> {
  disabled: boolean | number;
  secret_fingerprints: string | null;
}

function toStoredConnection(row: ConnectionRow): StoredConnection {
  return {
    key: row.key,
    name: row.name,
    connection_type: row.connection_type,
    access: row.access,
    description: row.description,
    // SQLite returns booleans as 0/1.
    disabled: Boolean(row.disabled),
    timeout_ms: row.timeout_ms,
    origin: row.origin,
    secrets_encrypted: row.secrets_encrypted,
    secret_fingerprints: row.secret_fingerprints ? (JSON.parse(row.secret_fingerprints) as SecretFingerprints) : {},
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** A database without hookctl's serial row: not a state (or one hookctl did not create). */
function noSerial(): HookctlError {
  return new HookctlError('the state database has no serial: it was not created by hookctl');
}
