/**
 * Bookkeeping of applies to Fides servers, per target: what hookctl created there, each
 * resource's digest as last applied, the fingerprints of the secrets it last set, and the
 * revision history. Keyed HMACs and digests only: never a secret value or a token.
 */
import type { Knex } from 'knex';
import type { Queryable } from './queryable.js';
import type { Revision, RevisionRow } from './history.js';

export interface TargetResource {
  created: boolean;
  digest: string | null;
  fp_url: string | null;
  fp_authorization: string | null;
}

interface ResourceRow extends TargetResource {
  resource: string;
}

/** Resource id → its record. */
export async function readTargetResources(q: Queryable, target: string): Promise<Map<string, TargetResource>> {
  const rows: ResourceRow[] = await q('fides_resources').where({ target }).select('resource', 'created', 'digest', 'fp_url', 'fp_authorization');
  return new Map(rows.map(({ resource, ...r }) => [resource, { ...r, created: Boolean(r.created) }]));
}

/** Merges `patch` into the resource's record (creating it). */
export async function recordTargetResource(trx: Knex.Transaction, target: string, resource: string, patch: Partial<TargetResource>): Promise<void> {
  const existing = (await trx('fides_resources').where({ target, resource }).first()) as ResourceRow | undefined;
  if (existing) {
    if (Object.keys(patch).length > 0) await trx('fides_resources').where({ target, resource }).update(patch);
    return;
  }
  await trx('fides_resources').insert({ target, resource, created: false, digest: null, fp_url: null, fp_authorization: null, ...patch });
}

export async function forgetTargetResource(trx: Knex.Transaction, target: string, resource: string): Promise<void> {
  await trx('fides_resources').where({ target, resource }).delete();
}

export interface TargetRevision extends Revision {
  partial: boolean;
}

interface TargetRevisionRow extends RevisionRow {
  partial: boolean | number;
}

export async function appendTargetRevision(trx: Knex.Transaction, target: string, rev: Omit<TargetRevision, 'serial'>): Promise<number> {
  const serial = (await targetSerial(trx, target)) + 1;
  await trx('fides_revisions').insert({
    target,
    serial,
    applied_at: rev.applied_at,
    actor: rev.actor,
    manifest_digest: rev.manifest_digest,
    summary: JSON.stringify(rev.summary),
    changes: JSON.stringify(rev.changes),
    partial: rev.partial,
  });
  return serial;
}

/** The serial of the target's last revision, 0 if none. */
/** The id of the state database that holds the bookkeeping: saved plans are bound to it as well. */
export async function readStateId(q: Queryable): Promise<string> {
  const row = (await q('hookctl_meta').where({ name: 'state_id' }).first('value')) as { value: string } | undefined;
  return row?.value ?? '';
}

export async function targetSerial(q: Queryable, target: string): Promise<number> {
  const row = (await q('fides_revisions').where({ target }).max({ serial: 'serial' }).first()) as { serial: number | string | null } | undefined;
  return Number(row?.serial ?? 0);
}

/** Newest first. */
export async function readTargetHistory(q: Queryable, target: string): Promise<TargetRevision[]> {
  const rows: TargetRevisionRow[] = await q('fides_revisions').where({ target }).select().orderBy('serial', 'desc');
  return rows.map((r) => ({
    serial: Number(r.serial),
    applied_at: r.applied_at,
    actor: r.actor,
    manifest_digest: r.manifest_digest,
    summary: JSON.parse(r.summary) as Revision['summary'],
    changes: JSON.parse(r.changes) as unknown,
    partial: Boolean(r.partial),
  }));
}
