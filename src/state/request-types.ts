/** A privacy request as stored (migration 002): its row and its timeline entries. */
import type { Direction } from '../model/types.js';

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

/** A `privacy_requests` row. */
export interface RequestRow {
  id: string;
  policy_key: string;
  status: RequestStatus;
  /** JSON of the identity ({email, phone_number}). */
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
   * Not a column: the configuration serial when the worker's claim or commit wrote this row, so
   * that a step starting from it knows which webhook lists are current.
   */
  config_serial?: number;
}

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

/** A timeline entry that is not a webhook call: the execution step, a resume, a retry, an expiry. */
export function stepEvent(step: Step, outcome: TimelineOutcome, reason: string, at: Date = new Date()): TimelineEntry {
  return { webhook_key: null, callback_type: step, direction: null, status_code: null, outcome, reason, started_at: at.toISOString(), duration_ms: 0 };
}
