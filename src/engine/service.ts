/**
 * The privacy-request operations behind the HTTP routes and the CLI, free of HTTP: each
 * returns its result, or throws a FidesError (the Fides status and `detail`) for the route to send.
 */
import { bearerToken } from '../bearer.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiError, FidesError, type ValidationIssue } from '../model/errors.js';
import { existingPolicyKeys } from '../state/config-reads.js';
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';
import { createRequests, expirePauses, findRequest, listRequests, resumeRequest, retryRequest, type NewRequest } from '../state/request-store.js';
import { stepEvent, type RequestRow } from '../state/request-types.js';
import { emptyIdentity, fieldList, mergeIdentity, parseIdentity, requestIdentity, type Identity } from './identity.js';
import { checkReplyToken } from './reply-token.js';
import { toView, toViews, type RequestView } from './request-views.js';
import { announceWork } from './wake-up.js';

/**
 * One item of a create body (schemas/api/privacy-request-create.schema.json). Fides' other
 * fields (custom fields, consent, encryption key, source, location…) are accepted there and
 * not used: nothing hookctl runs depends on them.
 */
export interface PrivacyRequestInput {
  policy_key: string;
  identity: { email?: string | null; phone_number?: string | null };
  external_id?: string | null;
  /** ISO 8601; without an offset it is UTC. */
  requested_at?: string | null;
}

export interface CreateResult {
  succeeded: RequestView[];
  failed: { message: string; data: PrivacyRequestInput }[];
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  size: number;
}

const PAUSE_EXPIRED = 'paused request expired';

function notFound(id: string): FidesError {
  return apiError('privacy_request_not_found', id);
}

/** Queue requests (status `pending`); each item that cannot be queued is a `failed` entry. */
export async function createPrivacyRequests(db: Database, items: PrivacyRequestInput[]): Promise<CreateResult> {
  const policies = await existingPolicyKeys(
    db,
    items.map((i) => i.policy_key),
  );
  const failed: CreateResult['failed'] = [];
  const queued: NewRequest[] = [];
  for (const item of items) {
    const identity = parseIdentity(item.identity);
    if ('problem' in identity) {
      failed.push({ message: `${['identity', ...identity.problem.loc].join('.')}: ${identity.problem.msg}`, data: echo(item) });
    } else if (Object.keys(identity.values).length === 0) {
      failed.push({ message: 'You must provide at least one identity to process', data: echo(item) });
    } else if (!policies.has(item.policy_key)) {
      failed.push({ message: `Policy with key ${item.policy_key} does not exist`, data: echo(item) });
    } else {
      queued.push(newRequest(item, mergeIdentity(emptyIdentity(), identity.values)));
    }
  }
  const rows = await createRequests(db, queued);
  if (rows.length > 0) announceWork();
  return { succeeded: await toViews(db, rows), failed };
}

/** A failed item as given, less an `encryption_key` (a client's secret, which Fides echoes back). */
function echo(item: PrivacyRequestInput): PrivacyRequestInput {
  const { encryption_key: _key, ...rest } = item as PrivacyRequestInput & { encryption_key?: unknown };
  return rest;
}

function newRequest(item: PrivacyRequestInput, identity: Identity): NewRequest {
  return {
    policy_key: item.policy_key,
    identity: JSON.stringify(identity),
    external_id: item.external_id ?? null,
    requested_at: item.requested_at ? utcIso(item.requested_at) : null,
  };
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * An ISO 8601 date-time (the schema's `dateTime`) as a UTC ISO string, or null when it names no
 * real moment (2021-02-30). Without an offset it is UTC, as Fides stores it.
 */
export function utcIso(value: string): string | null {
  const m = DATE_TIME.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, sec = '0', frac = '0'] = m.slice(1, 8);
  // setUTCFullYear, not Date.UTC: the latter reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(sec), Number(frac.padEnd(3, '0').slice(0, 3)));
  const local = date.getTime();
  if (date.getUTCDate() !== Number(d)) return null;
  const offsetMin = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  return new Date(local - offsetMin * 60_000).toISOString();
}

/** Problems the body schema cannot see: dates that do not exist. Fides answers them with 422. */
export function createIssues(items: PrivacyRequestInput[]): ValidationIssue[] {
  return items.flatMap((item, i) =>
    item.requested_at && utcIso(item.requested_at) === null
      ? [{ loc: ['body', i, 'requested_at'], msg: 'invalid datetime format', type: 'value_error.datetime' }]
      : [],
  );
}

export async function getPrivacyRequest(db: Database, id: string): Promise<RequestView> {
  const row = await findRequest(db, id);
  if (!row) throw notFound(id);
  return toView(db, row);
}

/** The filters hookctl applies to a list of privacy requests (GET /privacy-request, POST …/search). */
export interface RequestFilter {
  /** hookctl's own: a case-sensitive prefix of the id. */
  id?: string;
  /** Fides': a case-insensitive substring of the id. */
  request_id?: string;
  /** Fides': a case-insensitive prefix of the external id. */
  external_id?: string;
  /** Any of these; statuses hookctl never sets (Fides' `approved`…) simply match nothing. */
  status?: readonly string[];
  /** By `created_at`; newest first by default, as in Fides. */
  sort_direction?: 'asc' | 'desc';
  page?: number;
  size?: number;
}

export async function listPrivacyRequests(db: Database, query: RequestFilter): Promise<Page<RequestView>> {
  const page = query.page ?? 1;
  const size = query.size ?? 50;
  const { rows, total } = await listRequests(db, {
    idPrefix: query.id,
    idContains: query.request_id,
    externalIdPrefix: query.external_id,
    statuses: query.status,
    order: query.sort_direction ?? 'desc',
    limit: size,
    offset: (page - 1) * size,
  });
  return { items: await toViews(db, rows), total, page, size };
}

/**
 * `POST /privacy-request/{id}/resume`, authorized by the reply-to token of the pause, checked in
 * this order: 401 no token, 403 bad or expired token, 404, 422 body, 400 not paused. The derived identity is merged only when the resume
 * succeeds; the token's jti is the pause's, so a token works once.
 */
export async function resumePrivacyRequest(
  db: Database,
  keys: Keys,
  id: string,
  authorization: string | undefined,
  body: unknown,
  now: Date = new Date(),
): Promise<RequestView> {
  const token = bearerToken(authorization);
  if (token === null) throw apiError('not_authenticated');
  const check = await checkReplyToken(keys.replyToken, token, now);
  if (check.kind === 'invalid' || check.claims.privacy_request_id !== id) throw apiError('not_authorized');
  if (check.kind === 'expired') throw apiError('reply_token_expired');

  const found = await findRequest(db, id);
  if (!found) throw notFound(id);
  const derived = parseResumeBody(body);
  if ('issues' in derived) throw new FidesError(422, derived.issues);
  const { claims } = check;
  const row = await pauseCommitted(db, found, claims.webhook_id);
  const notPaused = (current: RequestRow) => apiError('resume_not_paused', id, current.status);
  const refusal = (current: RequestRow): FidesError | undefined =>
    current.status !== 'paused'
      ? notPaused(current)
      : current.pause_webhook_id !== claims.webhook_id || current.pause_token_jti !== claims.jti
        ? apiError('not_authorized')
        : undefined;
  const refused = refusal(row);
  if (refused) throw refused;

  const fields = fieldList(derived.values);
  const resumed = await resumeRequest(db, {
    id,
    jti: claims.jti,
    identity: JSON.stringify(mergeIdentity(requestIdentity(row), derived.values)),
    event: stepEvent('pre', 'resumed', fields ? `resumed; derived identity merged: ${fields}` : 'resumed', now),
  });
  if (!resumed) {
    // Expired or resumed by a concurrent call since we read it (requests are never deleted).
    const current = (await findRequest(db, id))!;
    throw refusal(current) ?? notPaused(current);
  }
  announceWork();
  return toView(db, resumed);
}

/** How long a resume waits for the worker running the request to commit the pause it answers. */
const PAUSE_COMMIT_WAIT_MS = 2_000;

/**
 * A webhook may resume while it is still answering `halt: true`, before the worker has
 * committed the pause. While a worker runs the request's pre-execution step and has not yet
 * recorded the token's webhook, wait (briefly) for it rather than refuse the resume.
 */
async function pauseCommitted(db: Database, row: RequestRow, webhookId: string): Promise<RequestRow> {
  const deadline = Date.now() + PAUSE_COMMIT_WAIT_MS;
  let current = row;
  while (
    current.status === 'in_processing' &&
    current.lease_owner !== null &&
    current.cursor_step === 'pre' &&
    current.cursor_webhook_id !== webhookId &&
    Date.now() < deadline
  ) {
    await sleep(25);
    current = (await findRequest(db, row.id)) ?? current;
  }
  return current;
}

/** `{"derived_identity": {...}}` or `{}` (no body counts as `{}`). */
function parseResumeBody(body: unknown): { values: Partial<Identity> } | { issues: ValidationIssue[] } {
  if (body === undefined) return { values: {} };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { issues: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] };
  }
  const extra = Object.keys(body).filter((k) => k !== 'derived_identity');
  if (extra.length > 0) {
    return { issues: extra.map((k) => ({ loc: ['body', k], msg: 'extra fields not permitted', type: 'value_error.extra' })) };
  }
  const given = (body as { derived_identity?: unknown }).derived_identity;
  if (given === undefined || given === null) return { values: {} };
  const identity = parseIdentity(given);
  if ('problem' in identity) {
    const { loc, msg, type } = identity.problem;
    return { issues: [{ loc: ['body', 'derived_identity', ...loc], msg, type }] };
  }
  return identity;
}

/** `POST /privacy-request/{id}/retry`: an `error` request runs again from its failed step. */
export async function retryPrivacyRequest(db: Database, id: string): Promise<RequestView> {
  const row = await findRequest(db, id);
  if (!row) throw notFound(id);
  if (row.status !== 'error') {
    throw apiError('retry_not_failed', id, row.status);
  }
  if (!row.failed_step) throw apiError('retry_without_failed_step', id);
  const retried = await retryRequest(db, { id, step: row.failed_step, event: stepEvent(row.failed_step, 'retried', `retrying from the ${row.failed_step} step`) });
  // Retried by a concurrent call since we read it: answer as that request is now.
  if (!retried) return retryPrivacyRequest(db, id);
  announceWork();
  return toView(db, retried);
}

const EXPIRY_BATCH = 500;

/**
 * Paused requests whose reply-to token has expired become `error` ("paused request
 * expired"). Unlike Fides they keep a failed step (pre), so that `/retry` can run them again.
 * Returns how many expired; `onExpired` gets them as they are written.
 */
export async function expirePausedRequests(db: Database, now: Date = new Date(), onExpired?: (rows: RequestRow[]) => void): Promise<number> {
  let expired = 0;
  for (;;) {
    const rows = await expirePauses(db, { now, limit: EXPIRY_BATCH, reason: PAUSE_EXPIRED, event: stepEvent('pre', 'expired', PAUSE_EXPIRED, now) });
    expired += rows.length;
    onExpired?.(rows);
    if (rows.length < EXPIRY_BATCH) return expired;
  }
}
