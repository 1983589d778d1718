import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import type { Direction } from '../model/types.js';
import type { Identity } from './identity.js';

export type RequestStatus = 'pending' | 'in_processing' | 'paused' | 'complete' | 'error';

/** Execution steps, in order: pre-execution webhooks, the execution step, post-execution webhooks. */
export type Step = 'pre' | 'execute' | 'post';

export type TimelineOutcome =
  | 'continue'
  | 'halt'
  | 'halt_ignored'
  | 'error'
  | 'skipped'
  | 'executed'
  | 'resumed'
  | 'expired'
  | 'retried';

/** A `privacy_requests` row (migration 002). */
export interface RequestRow {
  id: string;
  policy_key: string;
  status: RequestStatus;
  /** JSON of Identity. */
  identity: string;
  external_id: string | null;
  requested_at: string | null;
  created_at: string;
  updated_at: string;
  started_processing_at: string | null;
  finished_processing_at: string | null;
  paused_at: string | null;
  failure_reason: string | null;
  cursor_step: Step | null;
  cursor_webhook_id: string | null;
  cursor_position: number | null;
  pause_webhook_id: string | null;
  pause_token_jti: string | null;
  pause_expires_at: string | null;
  failed_step: Step | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  event_seq: number;
  /**
   * Not a column: the configuration serial when the worker's claim or commit wrote this row
   * (RETURNING_WITH_SERIAL), so that a step starting from it knows which webhook lists are current.
   */
  config_serial?: number;
}

/** RETURNING of the worker's statements: the row, and the configuration serial of that moment. */
export const RETURNING_WITH_SERIAL = `*, (SELECT CAST(value AS INTEGER) FROM hookctl_meta WHERE name = 'serial') AS config_serial`;

/** One timeline entry: a webhook call, the execution step, or a resume/retry/expiry. */
export interface TimelineEntry {
  webhook_key: string | null;
  callback_type: Step | null;
  direction: Direction | null;
  status_code: number | null;
  outcome: TimelineOutcome;
  reason: string | null;
  started_at: string;
  duration_ms: number;
}

/** A privacy request as the API and the CLI show it. */
export interface RequestView {
  id: string;
  policy_key: string;
  status: RequestStatus;
  identity: Identity;
  external_id: string | null;
  requested_at: string | null;
  created_at: string;
  started_processing_at: string | null;
  finished_processing_at: string | null;
  paused_at: string | null;
  resume_endpoint: string | null;
  failure_reason: string | null;
  timeline: TimelineEntry[];
}

/** A timeline entry that is not a webhook call: the execution step, a resume, a retry, an expiry. */
export function stepEvent(step: Step, outcome: TimelineOutcome, reason: string, at: Date = new Date()): TimelineEntry {
  return { webhook_key: null, callback_type: step, direction: null, status_code: null, outcome, reason, started_at: at.toISOString(), duration_ms: 0 };
}

/** The columns of a pause, once it is over. */
export const NOT_PAUSED = { pause_webhook_id: null, pause_token_jti: null, pause_expires_at: null } as const;

export function newRequestId(): string {
  return `pri_${crypto.randomUUID()}`;
}

/** The `reply-to` header value: the resume route without the `/api/v1` prefix, like Fides. */
export function resumePath(id: string): string {
  return `/privacy-request/${id}/resume`;
}

export function retryPath(id: string): string {
  return `/privacy-request/${id}/retry`;
}

export function requestIdentity(row: RequestRow): Identity {
  return JSON.parse(row.identity) as Identity;
}

export async function findRequest(knex: Knex, id: string): Promise<RequestRow | undefined> {
  return knex('privacy_requests').where({ id }).first();
}

/** Which rows a transition may change: the expected id, status, pause or lease. */
export type TransitionGuard = Partial<RequestRow> | ((query: Knex.QueryBuilder) => void);

export interface TransitionInput {
  guard: TransitionGuard;
  changes: Partial<RequestRow>;
  /** Appended to the timeline of each updated request, in order. */
  events?: TimelineEntry[];
}

/**
 * Change the requests that still match `guard` (the expected status, pause or lease) and
 * append `event` to each one's timeline, atomically; the same update allocates the events'
 * seq. Returns the updated rows: none when the guard no longer matches (someone else moved
 * the request meanwhile).
 */
export async function transition(knex: Knex, guard: TransitionGuard, changes: Partial<RequestRow>, event?: TimelineEntry): Promise<RequestRow[]> {
  const [rows] = await transitions(knex, [{ guard, changes, events: event && [event] }]);
  return rows!;
}

/**
 * Several transitions in one transaction (one commit), their events appended by one insert.
 * Returns each one's updated rows, in order.
 */
export async function transitions(knex: Knex, inputs: TransitionInput[]): Promise<RequestRow[][]> {
  const apply = async (trx: Knex) => {
    const updated = await guardedUpdates(trx, inputs);
    // The update advanced event_seq past the new events: they take the seqs up to it.
    const events = inputs.flatMap(({ events = [] }, i) =>
      updated[i]!.flatMap((row) => events.map((event, k) => ({ privacy_request_id: row.id, seq: row.event_seq - events.length + 1 + k, ...event }))),
    );
    if (events.length > 0) await trx('privacy_request_events').insert(events);
    return updated;
  };
  return inputs.length > 1 || inputs.some((i) => i.events?.length) ? knex.transaction(apply) : apply(knex);
}

/** A transition that names its one request: the worker's, one per webhook call. */
type ByIdInput = TransitionInput & { guard: Partial<RequestRow> & { id: string } };

/**
 * The transitions' UPDATE … RETURNING *. When each names a different request by id (a group
 * commit of the worker: one per webhook call), all are one plain SQL statement, the same on
 * both backends: each round trip to the database is a turn of the event loop, and a commit
 * that waits for many turns holds up every request in the next batch.
 */
async function guardedUpdates(trx: Knex, inputs: TransitionInput[]): Promise<RequestRow[][]> {
  const updatedAt = new Date().toISOString();
  const ids = new Set(inputs.map(({ guard }) => (typeof guard === 'function' ? undefined : guard.id)));
  if (ids.has(undefined) || ids.size < inputs.length) {
    const updated: RequestRow[][] = [];
    for (const { guard, changes, events } of inputs) {
      const update: Record<string, unknown> = { ...changes, updated_at: updatedAt };
      if (events?.length) update.event_seq = trx.raw('event_seq + ?', [events.length]);
      updated.push(await trx('privacy_requests').where(guard).update(update).returning('*'));
    }
    return updated;
  }
  const rows = await updateById(trx, inputs as ByIdInput[], updatedAt);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return inputs.map(({ guard }) => {
    const row = byId.get((guard as ByIdInput['guard']).id);
    return row ? [row] : [];
  });
}

/** `SET column = CASE id WHEN … END` per column, each request under its own guard. */
async function updateById(trx: Knex, inputs: ByIdInput[], updatedAt: string): Promise<RequestRow[]> {
  const setBy = new Map<string, [string, unknown][]>();
  for (const { guard, changes } of inputs) {
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
  const counted = inputs.filter((i) => i.events?.length);
  if (counted.length > 0) {
    bindings.push(...counted.map((i) => i.guard.id));
    assignments.push(`event_seq = event_seq + CASE id ${counted.map((i) => `WHEN ? THEN ${i.events!.length}`).join(' ')} ELSE 0 END`);
  }
  const guards = inputs.map(({ guard }) => {
    const conditions = Object.entries(guard).map(([column, value]) => {
      if (value === null) return `${columnName(column)} IS NULL`;
      if (value === undefined) throw new Error(`transition guard on '${column}' is undefined`);
      bindings.push(value);
      return `${columnName(column)} = ?`;
    });
    return `(${conditions.join(' AND ')})`;
  });
  const sql = `UPDATE privacy_requests SET ${assignments.join(', ')} WHERE ${guards.join(' OR ')} RETURNING ${RETURNING_WITH_SERIAL}`;
  const result: RequestRow[] | { rows: RequestRow[] } = await trx.raw(sql, bindings as Knex.RawBinding[]);
  // sqlite3 answers a raw statement with its rows, pg with a result object.
  return Array.isArray(result) ? result : result.rows;
}

/** A column name of the code's own (never input), quoted. */
function columnName(column: string): string {
  if (!/^[a-z_]+$/.test(column)) throw new Error(`not a column name: '${column}'`);
  return `"${column}"`;
}

/** Rows with their timelines (one query for all the events). */
export async function toViews(knex: Knex, rows: RequestRow[]): Promise<RequestView[]> {
  if (rows.length === 0) return [];
  const events: (TimelineEntry & { privacy_request_id: string })[] = await knex('privacy_request_events')
    .whereIn(
      'privacy_request_id',
      rows.map((r) => r.id),
    )
    .orderBy([{ column: 'privacy_request_id' }, { column: 'seq' }])
    .select('privacy_request_id', 'webhook_key', 'callback_type', 'direction', 'status_code', 'outcome', 'reason', 'started_at', 'duration_ms');
  const timelines = new Map<string, TimelineEntry[]>(rows.map((r) => [r.id, []]));
  for (const { privacy_request_id, ...entry } of events) timelines.get(privacy_request_id)!.push(entry);
  return rows.map((row) => ({
    id: row.id,
    policy_key: row.policy_key,
    status: row.status,
    identity: requestIdentity(row),
    external_id: row.external_id,
    requested_at: row.requested_at,
    created_at: row.created_at,
    started_processing_at: row.started_processing_at,
    finished_processing_at: row.finished_processing_at,
    paused_at: row.paused_at,
    resume_endpoint: row.status === 'paused' ? resumePath(row.id) : row.status === 'error' ? retryPath(row.id) : null,
    failure_reason: row.failure_reason,
    timeline: timelines.get(row.id)!,
  }));
}

export async function toView(knex: Knex, row: RequestRow): Promise<RequestView> {
  const [view] = await toViews(knex, [row]);
  return view!;
}

/**
 * In-process wake-up: creating, resuming or retrying a request announces work, and the
 * workers of this process claim it at once instead of at their next poll. Other processes
 * (several `serve` on one PostgreSQL) find it by polling.
 */
const workQueued = new EventEmitter().setMaxListeners(0);

export function announceWork(): void {
  workQueued.emit('work');
}

export function onWorkQueued(listener: () => void): () => void {
  workQueued.on('work', listener);
  return () => workQueued.off('work', listener);
}
