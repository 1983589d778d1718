/** Applied revisions: one row per serial, written in the apply's (or the API write's) transaction. */
import type { Knex } from 'knex';
import type { Queryable } from './config-store.js';

/** The actor of every revision written through the HTTP API; any other actor is an apply. */
export const API_ACTOR = 'api';

export interface Revision {
  serial: number;
  applied_at: string;
  actor: string;
  manifest_digest: string;
  summary: { add: number; change: number; delete: number; move: number };
  /** JSON; the caller keeps secrets out of it (fingerprints at most). */
  changes: unknown;
}

interface RevisionRow {
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

/**
 * Newest first: the revisions of the API (`api: true`) or of applies (`api: false`), optionally
 * only those after a serial.
 */
export async function readRevisions(q: Queryable, opts: { api: boolean; after?: number }): Promise<Revision[]> {
  const query = q('revisions').select().orderBy('serial', 'desc');
  if (opts.api) query.where('actor', API_ACTOR);
  else query.whereNot('actor', API_ACTOR);
  if (opts.after !== undefined) query.where('serial', '>', opts.after);
  const rows: RevisionRow[] = await query;
  return rows.map(fromRow);
}

/** The serial of the last apply (any revision not written through the API), 0 if none. */
export async function lastApplySerial(q: Queryable): Promise<number> {
  const row = (await q('revisions').whereNot('actor', API_ACTOR).max({ serial: 'serial' }).first()) as { serial: number | string | null } | undefined;
  return Number(row?.serial ?? 0);
}

function fromRow(row: RevisionRow): Revision {
  return { ...row, summary: JSON.parse(row.summary) as Revision['summary'], changes: JSON.parse(row.changes) as unknown };
}
