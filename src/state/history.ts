/** Applied revisions: one row per serial, written in the apply's (or the API write's) transaction. */
import type { Knex } from 'knex';
import type { Queryable } from './queryable.js';
import type { ChangeSummary, ResourceChange } from '../model/changes.js';
import { dialectOfKnex } from './dialect.js';

/**
 * Revisions written through the HTTP API have the actor `api:<client_id>` (`api` for a token
 * that names no client); any other actor is an apply.
 */
const API_ACTOR = 'api';

export function apiActorOf(clientId: string | null): string {
  return clientId === null ? API_ACTOR : `${API_ACTOR}:${clientId}`;
}

/** Restricts a revisions query to the API's revisions, or (`api: false`) to the applies'. */
function byOrigin(query: Knex.QueryBuilder, api: boolean): Knex.QueryBuilder {
  const isApi = (q: Knex.QueryBuilder) => q.where('actor', API_ACTOR).orWhere('actor', 'like', `${API_ACTOR}:%`);
  return api ? query.where(isApi) : query.whereNot(isApi);
}

export interface Revision {
  serial: number;
  applied_at: string;
  actor: string;
  manifest_digest: string;
  summary: ChangeSummary;
  /** JSON; the caller keeps secrets out of it (fingerprints at most). */
  changes: unknown;
}

/** A revision as stored: its summary and changes as JSON text. */
export interface RevisionRow {
  serial: number;
  applied_at: string;
  actor: string;
  manifest_digest: string;
  summary: string;
  changes: string;
}

export async function appendRevision(trx: Knex.Transaction, rev: Revision): Promise<void> {
  const row: RevisionRow = { ...rev, summary: JSON.stringify(rev.summary), changes: JSON.stringify(rev.changes) };
  await trx('revisions').insert(row);
}

/** Newest first. */
export async function readHistory(q: Queryable, opts: { limit?: number } = {}): Promise<Revision[]> {
  const query = q('revisions').select().orderBy('serial', 'desc');
  if (opts.limit !== undefined) query.limit(opts.limit);
  const rows: RevisionRow[] = await query;
  return rows.map(fromRow);
}

/** Newest first: the revisions written through the API after a serial. */
export async function readApiRevisions(q: Queryable, after: number): Promise<Revision[]> {
  const query = q('revisions').select().orderBy('serial', 'desc').where('serial', '>', after);
  byOrigin(query, true);
  const rows: RevisionRow[] = await query;
  return rows.map(fromRow);
}

/**
 * The connection changes the applies recorded, newest revision first. The database picks them
 * out of each revision's changes, so a plan does not read (and parse) every webhook change ever
 * applied to learn about a hundred connections.
 */
export async function readAppliedConnectionChanges(q: Queryable): Promise<ResourceChange[]> {
  const query = q('revisions')
    .joinRaw(`CROSS JOIN ${dialectOfKnex(q).jsonArrayElements('revisions.changes')}`)
    .whereRaw(`value ->> 'kind' = 'connection'`)
    .select({ change: 'value' })
    .orderBy('serial', 'desc');
  byOrigin(query, false);
  const rows: { change: string | ResourceChange }[] = await query;
  // pg parses a json column itself; sqlite3 returns its text.
  return rows.map((r) => (typeof r.change === 'string' ? (JSON.parse(r.change) as ResourceChange) : r.change));
}

/** The serial of the last apply (any revision not written through the API), 0 if none. */
export async function lastApplySerial(q: Queryable): Promise<number> {
  const row = (await byOrigin(q('revisions'), false).max({ serial: 'serial' }).first()) as { serial: number | string | null } | undefined;
  return Number(row?.serial ?? 0);
}

function fromRow(row: RevisionRow): Revision {
  return { ...row, summary: JSON.parse(row.summary) as Revision['summary'], changes: JSON.parse(row.changes) as unknown };
}
