/** Applied revisions: one row per serial, written in the apply's transaction. */
import type { Knex } from 'knex';
import type { Queryable } from './config-store.js';

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
  return rows.map((row) => ({ ...row, summary: JSON.parse(row.summary) as Revision['summary'], changes: JSON.parse(row.changes) as unknown }));
}
