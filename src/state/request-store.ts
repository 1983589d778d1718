/**
 * The privacy requests in the state: one function per named transition (create, claim, renew,
 * commit results, pause, release, resume, retry, expire pauses), each one statement guarded by
 * what it expects of the row — its status, its pause, its lease holder — so that a request
 * moved meanwhile by someone else (a resume, another worker) is left alone and the caller is
 * told: the transition returns no row. A statement that appends timeline entries runs with
 * their insert in one transaction, and the update allocates their seq (event_seq).
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Database } from './database.js';
import { CONFIG_SERIAL, dialectOf, withoutAsyncCommit } from './dialect.js';
import type { RequestRow, RequestStatus, Step, TimelineEntry } from './request-types.js';

/** RETURNING of the claim: the row, and the configuration serial of that moment. */
const RETURNING_WITH_SERIAL = `*, ${CONFIG_SERIAL}`;

/** The columns of a pause, once it is over. */
const NOT_PAUSED = { pause_webhook_id: null, pause_token_jti: null, pause_expires_at: null } as const;
/** The columns of a lease, once the request is let go. */
export const RELEASED = { lease_owner: null, lease_expires_at: null } as const;

/** A new request's own fields; the store fills in the rest. */
export interface NewRequest {
  policy_key: string;
  /** JSON of the identity. */
  identity: string;
  external_id: string | null;
  requested_at: string | null;
}

/** Queue requests (status `pending`, at the pre step). Returns their rows, in order. */
export async function createRequests(db: Database, requests: NewRequest[], now: string = new Date().toISOString()): Promise<RequestRow[]> {
  const rows = requests.map((r) => newRow(r, now));
  if (rows.length > 0) await db.knex('privacy_requests').insert(rows);
  return rows;
}

function newRow(request: NewRequest, now: string): RequestRow {
  return {
    id: `pri_${crypto.randomUUID()}`,
    ...request,
    status: 'pending',
    created_at: now,
    updated_at: now,
    started_processing_at: null,
    finished_processing_at: null,
    paused_at: null,
    failure_reason: null,
    cursor_step: 'pre',
    cursor_webhook_id: null,
    cursor_position: null,
    ...NOT_PAUSED,
    failed_step: null,
    ...RELEASED,
    event_seq: 0,
  };
}

export async function findRequest(db: Database, id: string): Promise<RequestRow | undefined> {
  return db.knex('privacy_requests').where({ id }).first();
}

/** What a list of requests is narrowed to, and which page of it. */
export interface RequestQuery {
  /** A case-sensitive prefix of the id. */
  idPrefix?: string;
  /** A case-insensitive substring of the id. */
  idContains?: string;
  /** A case-insensitive prefix of the external id. */
  externalIdPrefix?: string;
  statuses?: readonly string[];
  /** By created_at (then id). */
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

/** A LIKE pattern that matches `text` literally (with ESCAPE '\\'). */
function likeLiteral(text: string): string {
  return text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** One page of the requests matching the query, and how many match in all. */
export async function listRequests(db: Database, query: RequestQuery): Promise<{ rows: RequestRow[]; total: number }> {
  const filtered = db.knex('privacy_requests').where((q) => {
    // A prefix match that is case-sensitive on both backends (SQLite's LIKE is not).
    if (query.idPrefix) q.whereRaw('substr(id, 1, ?) = ?', [query.idPrefix.length, query.idPrefix]);
    // lower() on both sides: PostgreSQL's LIKE is case-sensitive, SQLite's is not.
    if (query.idContains) q.whereRaw("lower(id) LIKE ? ESCAPE '\\'", [`%${likeLiteral(query.idContains)}%`]);
    if (query.externalIdPrefix) q.whereRaw("lower(external_id) LIKE ? ESCAPE '\\'", [`${likeLiteral(query.externalIdPrefix)}%`]);
    if (query.statuses) q.whereIn('status', [...query.statuses]);
  });
  const [counted, rows] = await Promise.all([
    filtered.clone().count<{ n: number | string }[]>({ n: '*' }),
    filtered
      .clone()
      .orderBy([
        { column: 'created_at', order: query.order },
        { column: 'id', order: query.order },
      ])
      .limit(query.limit)
      .offset(query.offset)
      .select<RequestRow[]>('*'),
  ]);
  return { rows, total: Number(counted[0]?.n ?? 0) };
}

/** The timelines of these requests, in order (one query for all of them). */
export async function readTimelines(db: Database, ids: string[]): Promise<Map<string, TimelineEntry[]>> {
  const timelines = new Map<string, TimelineEntry[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return timelines;
  const events: (TimelineEntry & { privacy_request_id: string })[] = await db
    .knex('privacy_request_events')
    .whereIn('privacy_request_id', ids)
    .orderBy([{ column: 'privacy_request_id' }, { column: 'seq' }])
    .select('privacy_request_id', 'webhook_key', 'callback_type', 'direction', 'status_code', 'outcome', 'reason', 'started_at', 'duration_ms');
  for (const { privacy_request_id, ...entry } of events) timelines.get(privacy_request_id)!.push(entry);
  return timelines;
}

/** Statuses a worker may claim when no live lease holds them. */
const CLAIMABLE: RequestStatus[] = ['pending', 'in_processing'];

/** Narrows a query on privacy_requests to the requests a worker may claim at `now`. */
function claimable(q: Knex.QueryBuilder, now: string): Knex.QueryBuilder {
  return q.whereIn('status', CLAIMABLE).where((w) => w.whereNull('lease_expires_at').orWhere('lease_expires_at', '<', now));
}

/** How many requests wait for a worker: pending, or in processing with no live lease. */
export async function countClaimable(db: Database, now: string = new Date().toISOString()): Promise<number> {
  const row = (await claimable(db.knex('privacy_requests'), now).count({ n: '*' }).first()) as { n: number | string };
  return Number(row.n);
}

export interface Claim {
  owner: string;
  limit: number;
  leaseMs: number;
  /** Only this request. */
  id?: string;
  now?: Date;
}

/**
 * Lease up to `limit` claimable requests (pending, or in progress with an expired or no lease),
 * oldest first, in one statement; a pending one starts processing. Two claimers never get the
 * same request: the statement rechecks each row's lease as it updates it (and on PostgreSQL
 * skips rows another claimer has locked).
 */
export async function claimRequests(db: Database, claim: Claim): Promise<RequestRow[]> {
  const { knex } = db;
  const at = claim.now ?? new Date();
  const now = at.toISOString();
  const candidates = claimable(knex('privacy_requests').select('id'), now)
    .orderBy([{ column: 'created_at' }, { column: 'id' }])
    .limit(claim.limit);
  if (claim.id !== undefined) candidates.where('id', claim.id);
  const claimed = claimable(knex('privacy_requests'), now);
  const dialect = dialectOf(db);
  dialect.claimWhereIdIn(knex, claimed, candidates);
  // A claim is acknowledged to no one: lost with the last commits of an OS crash, the request
  // is simply claimed again.
  const returning = [RETURNING_WITH_SERIAL, ...(dialect.asyncCommitColumn ? [dialect.asyncCommitColumn] : [])].join(', ');
  const rows: RequestRow[] = await claimed
    .update({
      status: 'in_processing',
      started_processing_at: knex.raw('COALESCE(started_processing_at, ?)', [now]),
      lease_owner: claim.owner,
      lease_expires_at: new Date(at.getTime() + claim.leaseMs).toISOString(),
      updated_at: now,
    })
    .returning(knex.raw(returning));
  return withoutAsyncCommit(rows);
}

/** Extend the leases `owner` still holds on these requests (one statement for all). */
export async function renewLeases(db: Database, owner: string, ids: string[], leaseMs: number): Promise<void> {
  if (ids.length === 0) return;
  await db
    .knex('privacy_requests')
    .where({ lease_owner: owner })
    .whereIn('id', ids)
    .update({ lease_expires_at: new Date(Date.now() + leaseMs).toISOString() });
}

/** A change of one request, made only if its row still matches `guard`, with entries for its timeline. */
export interface GuardedWrite {
  /** The request and what it must still be (the worker's: its lease holder). */
  guard: Partial<RequestRow> & { id: string };
  changes: Partial<RequestRow>;
  /** Appended to the request's timeline, in order. */
  events?: TimelineEntry[];
}

/**
 * The results of webhook calls, of many requests at once (the worker's group commit): each
 * write made only under its guard, all in one transaction. Returns each write's updated row
 * (none where the guard no longer matched: the lease was lost). The commit is asynchronous:
 * a crash of the process loses nothing, an OS crash or power loss at most the last results,
 * whose calls are then made again with the same webhook-id (at least once, as ever).
 */
export async function commitResults(db: Database, writes: GuardedWrite[]): Promise<RequestRow[][]> {
  const dialect = dialectOf(db);
  // Two writes of one request are applied one after the other, in order.
  if (new Set(writes.map(({ guard }) => guard.id)).size < writes.length) return dialect.withAsyncCommit(db.knex, (trx) => applyWrites(trx, writes));
  const events = new Map(writes.map(({ guard, events = [] }) => [guard.id, events]));
  const rows = await dialect.asyncCommitUpdate(db.knex, updateById(writes), (trx, updated) =>
    insertEvents(
      trx,
      updated.map((row) => [row, events.get(row.id)!]),
    ),
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return writes.map(({ guard }) => {
    const row = byId.get(guard.id);
    return row ? [row] : [];
  });
}

/** A pause: the webhook that halted the request, the one token that may resume it, until when. */
export type PauseChanges = Partial<RequestRow> & {
  status: 'paused';
  paused_at: string;
  pause_webhook_id: string;
  pause_token_jti: string;
  pause_expires_at: string;
};

/**
 * A halting webhook's pause, committed synchronously: the resume the webhook's endpoint may
 * send at once must find it, even after a crash. Returns the paused row, or none if `owner`
 * no longer holds the lease.
 */
export async function pauseRequest(db: Database, owner: string, id: string, changes: PauseChanges, events: TimelineEntry[]): Promise<RequestRow | undefined> {
  return single(await durably(db, { guard: { id, lease_owner: owner }, changes: { ...changes, ...RELEASED }, events }));
}

/** Let go of a request `owner` holds, cursor as it is, for the next claim to continue. */
export async function releaseRequest(db: Database, owner: string, id: string): Promise<RequestRow | undefined> {
  return single(await durably(db, { guard: { id, lease_owner: owner }, changes: { ...RELEASED } }));
}

/**
 * A paused request goes on (`in_processing`, unleased, for the next claim), with its identity
 * as given — if it is still paused by the pause whose token is `jti` (a token works once).
 */
export async function resumeRequest(db: Database, resume: { id: string; jti: string; identity: string; event: TimelineEntry }): Promise<RequestRow | undefined> {
  return single(
    await durably(db, {
      guard: { id: resume.id, status: 'paused', pause_token_jti: resume.jti },
      changes: { status: 'in_processing', identity: resume.identity, ...NOT_PAUSED },
      events: [resume.event],
    }),
  );
}

/** A request in `error` runs again from `step` (its failed step), if it is still in error. */
export async function retryRequest(db: Database, retry: { id: string; step: Step; event: TimelineEntry }): Promise<RequestRow | undefined> {
  return single(
    await durably(db, {
      guard: { id: retry.id, status: 'error' },
      changes: {
        status: 'in_processing',
        cursor_step: retry.step,
        cursor_webhook_id: null,
        cursor_position: null,
        failed_step: null,
        failure_reason: null,
        finished_processing_at: null,
      },
      events: [retry.event],
    }),
  );
}

function expiredPause(q: Knex.QueryBuilder, at: string): Knex.QueryBuilder {
  return q.where('status', 'paused').where('pause_expires_at', '<=', at);
}

/**
 * Up to `limit` paused requests whose pause expired by `now` become `error` with `reason`,
 * keeping a failed step (pre) so that a retry can run them again. Returns them.
 */
export async function expirePauses(db: Database, expiry: { now: Date; limit: number; reason: string; event: TimelineEntry }): Promise<RequestRow[]> {
  const at = expiry.now.toISOString();
  const { knex } = db;
  return knex.transaction(async (trx) => {
    const rows: RequestRow[] = await expiredPause(trx('privacy_requests'), at)
      // The outer conditions again: PostgreSQL rechecks them (not the subquery) on rows a
      // concurrent resume changed meanwhile.
      .whereIn('id', expiredPause(trx('privacy_requests').select('id'), at).limit(expiry.limit))
      .update({
        status: 'error',
        failure_reason: expiry.reason,
        failed_step: 'pre',
        finished_processing_at: at,
        ...NOT_PAUSED,
        updated_at: new Date().toISOString(),
        event_seq: trx.raw('event_seq + 1'),
      })
      .returning('*');
    await insertEvents(trx, rows.map((row) => [row, [expiry.event]]));
    return rows;
  });
}

function single(updated: RequestRow[][]): RequestRow | undefined {
  return updated[0]![0];
}

/** One write, committed synchronously (in a transaction when it has timeline entries). */
function durably(db: Database, write: GuardedWrite): Promise<RequestRow[][]> {
  return write.events?.length ? db.knex.transaction((trx) => applyWrites(trx, [write])) : applyWrites(db.knex, [write]);
}

/** Each write's guarded update, then its timeline entries at the seqs the update allocated. */
async function applyWrites(q: Knex, writes: GuardedWrite[]): Promise<RequestRow[][]> {
  const updatedAt = new Date().toISOString();
  const updated: RequestRow[][] = [];
  for (const { guard, changes, events = [] } of writes) {
    const update: Record<string, unknown> = { ...changes, updated_at: updatedAt };
    if (events.length > 0) update.event_seq = q.raw('event_seq + ?', [events.length]);
    const rows: RequestRow[] = await q('privacy_requests').where(guard).update(update).returning('*');
    await insertEvents(
      q,
      rows.map((row) => [row, events]),
    );
    updated.push(rows);
  }
  return updated;
}

/** The update advanced each row's event_seq past its new entries: they take the seqs up to it. */
async function insertEvents(q: Knex, appended: [RequestRow, TimelineEntry[]][]): Promise<void> {
  const rows = appended.flatMap(([row, events]) => events.map((event, k) => ({ privacy_request_id: row.id, seq: row.event_seq - events.length + 1 + k, ...event })));
  if (rows.length > 0) await q('privacy_request_events').insert(rows);
}

/**
 * One plain UPDATE for writes of different requests (a group commit of the worker: one per
 * webhook call), `SET column = CASE id WHEN … END` per column, each request under its own
 * guard: each round trip to the database is a turn of the event loop, and a commit that waits
 * for many turns holds up every request in the next batch.
 */
function updateById(writes: GuardedWrite[]): { sql: string; bindings: unknown[] } {
  const updatedAt = new Date().toISOString();
  const setBy = new Map<string, [string, unknown][]>();
  for (const { guard, changes } of writes) {
    for (const [column, value] of Object.entries({ ...changes, updated_at: updatedAt })) {
      if (value === undefined) continue;
      if (!setBy.has(column)) setBy.set(column, []);
      setBy.get(column)!.push([guard.id, value]);
    }
  }
  const bindings: unknown[] = [];
  const assignments = [...setBy].map(([column, values]) => {
    const name = columnName(column);
    const cases = values.map(([id, value]) => {
      bindings.push(id, value);
      return 'WHEN ? THEN ?';
    });
    return `${name} = CASE id ${cases.join(' ')} ELSE ${name} END`;
  });
  const counted = writes.filter((w) => w.events?.length);
  if (counted.length > 0) {
    bindings.push(...counted.map((w) => w.guard.id));
    assignments.push(`event_seq = event_seq + CASE id ${counted.map((w) => `WHEN ? THEN ${w.events!.length}`).join(' ')} ELSE 0 END`);
  }
  const guards = writes.map(({ guard }) => {
    const conditions = Object.entries(guard).map(([column, value]) => {
      if (value === null) return `${columnName(column)} IS NULL`;
      if (value === undefined) throw new Error(`transition guard on '${column}' is undefined`);
      bindings.push(value);
      return `${columnName(column)} = ?`;
    });
    return `(${conditions.join(' AND ')})`;
  });
  return { sql: `UPDATE privacy_requests SET ${assignments.join(', ')} WHERE ${guards.join(' OR ')}`, bindings };
}

/** A column name of the code's own (never input), quoted. */
function columnName(column: string): string {
  if (!/^[a-z_]+$/.test(column)) throw new Error(`not a column name: '${column}'`);
  return `"${column}"`;
}
