/** A privacy request as the API and the CLI show it: its row, its timeline, where to resume or retry it. */
import type { Database } from '../state/database.js';
import { readTimelines } from '../state/request-store.js';
import type { RequestRow, RequestStatus, TimelineEntry } from '../state/request-types.js';
import { requestIdentity, type Identity } from './identity.js';

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

/** The `reply-to` header value: the resume route without the `/api/v1` prefix, like Fides. */
export function resumePath(id: string): string {
  return `/privacy-request/${id}/resume`;
}

export function retryPath(id: string): string {
  return `/privacy-request/${id}/retry`;
}

/** Rows with their timelines (one query for all the events). */
export async function toViews(db: Database, rows: RequestRow[]): Promise<RequestView[]> {
  if (rows.length === 0) return [];
  const timelines = await readTimelines(
    db,
    rows.map((r) => r.id),
  );
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

export async function toView(db: Database, row: RequestRow): Promise<RequestView> {
  const [view] = await toViews(db, [row]);
  return view!;
}
