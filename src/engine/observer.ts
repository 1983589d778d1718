/**
 * What a worker reports as it executes requests: each status change it makes and each webhook
 * call. `serve` turns these into log lines and metrics. Reports carry ids, keys, statuses and
 * timings only: never an identity, a URL or an authorization.
 */
import type { Phase } from '../model/types.js';
import type { RequestStatus, Step, TimelineOutcome } from '../state/request-types.js';

export interface RequestTransition {
  request_id: string;
  policy_key: string;
  /**
   * `started`: a pending request's execution began; `continued`: a request already in
   * processing (resumed, retried, released or taken over) was claimed; `paused`, `complete`,
   * `error`; `released`: given back unfinished (the worker stops); `expired`: a pause outlived
   * its reply-to token (the request is now `error`).
   */
  event: 'started' | 'continued' | 'paused' | 'complete' | 'error' | 'released' | 'expired';
  /** The status after the transition. */
  status: RequestStatus;
  /** The step the request is at (or failed in). */
  step: Step | null;
  failure_reason: string | null;
}

export interface WebhookCallReport {
  request_id: string;
  webhook_key: string;
  callback_type: Phase;
  outcome: TimelineOutcome;
  /** The receiver's HTTP status; null when there was no answer or no call. */
  status_code: number | null;
  duration_ms: number;
  /** False when nothing was sent (the connection is disabled or has no secrets). */
  called: boolean;
}

export interface ExecutionObserver {
  transition(report: RequestTransition): void;
  webhookCall(report: WebhookCallReport): void;
}

/** Several observers as one. */
export function observers(...list: ExecutionObserver[]): ExecutionObserver {
  return {
    transition: (report) => list.forEach((o) => o.transition(report)),
    webhookCall: (report) => list.forEach((o) => o.webhookCall(report)),
  };
}
