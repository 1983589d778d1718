/**
 * Privacy requests: the engine's service functions (src/engine/service.ts) hold the logic,
 * return results and throw FidesErrors (sent by the error handler); these routes only translate HTTP.
 */
import type { FastifyInstance } from 'fastify';
import {
  createIssues,
  createPrivacyRequests,
  getPrivacyRequest,
  listPrivacyRequests,
  resumePrivacyRequest,
  retryPrivacyRequest,
  type PrivacyRequestInput,
  type RequestFilter,
} from '../../engine/service.js';
import type { RequestView } from '../../engine/request-views.js';
import { apiError } from '../../model/errors.js';
import { PAGE_QUERY, type PageQuery } from '../pagination.js';
import { bodySchema, commonDefinition, fidesKeyParams, RequestValidationError } from '../validation.js';
import type { ServerDeps } from '../deps.js';
import type { ServerMetrics } from '../metrics.js';

const idParams = fidesKeyParams('privacy_request_id');

interface IdParams {
  privacy_request_id: string;
}

/** Pydantic's spellings of a boolean in a query string, any case (Postman sends `verbose=True`). */
const TRUE_WORDS = ['1', 'on', 't', 'true', 'y', 'yes'];
const BOOL_WORDS = [...TRUE_WORDS, '0', 'off', 'f', 'false', 'n', 'no'];
const anyCase = (word: string) => word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);
const QUERY_BOOLEAN = { type: 'string', pattern: `^(${BOOL_WORDS.map(anyCase).join('|')})$` };

/**
 * The deprecated GET form of Fides' search. `id` (a prefix of the id) is hookctl's own; Fides
 * ignores it. Parameters neither knows are ignored, as FastAPI ignores them.
 */
const LIST_QUERY = {
  ...PAGE_QUERY,
  properties: {
    ...PAGE_QUERY.properties,
    id: commonDefinition('text'),
    request_id: commonDefinition('text'),
    external_id: commonDefinition('externalId'),
    status: { type: 'array', items: commonDefinition('privacyRequestStatus') },
    verbose: QUERY_BOOLEAN,
    include_identities: QUERY_BOOLEAN,
    include_custom_privacy_request_fields: QUERY_BOOLEAN,
    include_deleted_requests: QUERY_BOOLEAN,
    download_csv: QUERY_BOOLEAN,
    sort_field: { type: 'string' },
    sort_direction: { type: 'string', enum: ['asc', 'desc'] },
  },
};

type ListQuery = PageQuery & Omit<RequestFilter, 'page' | 'size'> & Record<string, unknown>;

/**
 * Fides filters that hookctl cannot apply. They are refused (400) rather than ignored, so that
 * a client filtering by one never takes the unfiltered list for its answer.
 */
const UNSUPPORTED_FILTERS = [
  'identity',
  'identities',
  'fuzzy_search_str',
  'custom_privacy_request_fields',
  'created_lt',
  'created_gt',
  'started_lt',
  'started_gt',
  'completed_lt',
  'completed_gt',
  'errored_lt',
  'errored_gt',
  'location',
  'action_type',
  'is_overdue',
];

/** The filter a GET query or a search body asks for, or a 400 naming what hookctl cannot do. */
function requestFilter(given: Record<string, unknown>, page: PageQuery): RequestFilter {
  const unsupported = UNSUPPORTED_FILTERS.find((name) => given[name] !== undefined && given[name] !== null);
  if (unsupported) throw apiError('unsupported_filter', unsupported);
  const csv = given.download_csv;
  if (csv === true || (typeof csv === 'string' && TRUE_WORDS.includes(csv.toLowerCase()))) {
    throw apiError('unsupported_download');
  }
  if (given.sort_field !== undefined && given.sort_field !== 'created_at') {
    throw apiError('unsupported_sort', String(given.sort_field));
  }
  const text = (name: string) => (typeof given[name] === 'string' && given[name] !== '' ? (given[name] as string) : undefined);
  const status = given.status;
  return {
    id: text('id'),
    request_id: text('request_id'),
    external_id: text('external_id'),
    status: typeof status === 'string' ? [status] : Array.isArray(status) ? (status as string[]) : undefined,
    sort_direction: given.sort_direction === 'asc' ? 'asc' : 'desc',
    page: page.page,
    size: page.size,
  };
}

/** Everything but resume (see resumeRoute). */
export async function privacyRequestRoutes(app: FastifyInstance, { db, publicApiUrl, metrics }: ServerDeps): Promise<void> {
  const present = presentRequest(publicApiUrl);
  const create = async (items: PrivacyRequestInput[]) => {
    const issues = createIssues(items);
    if (issues.length > 0) throw new RequestValidationError(issues);
    const { succeeded, failed } = await createPrivacyRequests(db, items);
    metrics.entered('pending', succeeded.length);
    return { succeeded: succeeded.map(present), failed };
  };
  const createRoute = (summary: string) => ({ config: { auth: 'privacy-request:create' as const }, schema: { summary, body: bodySchema('privacy-request-create') } });
  // Fides' public route (no token there: identity verification guards it) and its authenticated
  // twin. hookctl verifies no identities, so both need the scope.
  app.post<{ Body: PrivacyRequestInput[] }>('/privacy-request', createRoute('Queue privacy requests'), async (req) => create(req.body));
  app.post<{ Body: PrivacyRequestInput[] }>('/privacy-request/authenticated', createRoute("Queue privacy requests (Fides' authenticated route)"), async (req) =>
    create(req.body),
  );

  app.get<{ Querystring: ListQuery }>(
    '/privacy-request',
    { config: { auth: 'privacy-request:read' }, schema: { summary: 'List privacy requests', querystring: LIST_QUERY } },
    async (req) => {
      const page = await listPrivacyRequests(db, requestFilter(req.query, req.query));
      return { ...page, items: page.items.map(present) };
    },
  );

  app.post<{ Querystring: PageQuery; Body: Record<string, unknown> | null }>(
    '/privacy-request/search',
    { config: { auth: 'privacy-request:read' }, schema: { summary: 'Search privacy requests', querystring: PAGE_QUERY, body: bodySchema('privacy-request-search') } },
    async (req) => {
      const page = await listPrivacyRequests(db, requestFilter(req.body ?? {}, req.query));
      return { ...page, items: page.items.map(present) };
    },
  );

  app.get<{ Params: IdParams }>(
    '/privacy-request/:privacy_request_id',
    { config: { auth: 'privacy-request:read' }, schema: { summary: 'Get a privacy request with its timeline', params: idParams } },
    async (req) => present(await getPrivacyRequest(db, req.params.privacy_request_id)),
  );

  app.post<{ Params: IdParams }>(
    '/privacy-request/:privacy_request_id/retry',
    { config: { auth: 'privacy-request:resume' }, schema: { summary: 'Run a privacy request in error again from its failed step', params: idParams } },
    async (req) => present(entered(metrics, await retryPrivacyRequest(db, req.params.privacy_request_id))),
  );
}

/**
 * The resume route, authorized by the reply-to token (the engine checks it before the body:
 * 401 without a token, 403 for a bad or expired one, then 404, then 422 for the body). Registered with and without the /api/v1 prefix: `reply-to` carries the latter.
 */
export async function resumeRoute(app: FastifyInstance, { db, keys, publicApiUrl, metrics }: ServerDeps): Promise<void> {
  const present = presentRequest(publicApiUrl);
  // The token is checked before the body (401/403 come before 422), so a body that is not
  // JSON (or not labelled as such) must not fail here: this plugin's parser hands it on as text
  // and the engine answers 422 after the token checks.
  const lenient = (_req: unknown, text: string | Buffer, done: (err: null, body?: unknown) => void) => {
    const raw = text.toString();
    if (raw === '') return done(null, undefined);
    try {
      done(null, JSON.parse(raw));
    } catch {
      done(null, raw);
    }
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, lenient);
  app.post<{ Params: IdParams }>(
    '/privacy-request/:privacy_request_id/resume',
    {
      config: { auth: 'reply-token' },
      // The body ({"derived_identity": {…}} or none) is read by the engine after the token checks.
      schema: { summary: 'Resume a paused privacy request with the reply-to token of the call that paused it', params: idParams },
    },
    async (req) => present(entered(metrics, await resumePrivacyRequest(db, keys, req.params.privacy_request_id, req.headers.authorization, req.body))),
  );
}

/**
 * The engine gives `resume_endpoint` relative to the API base, as Fides does; behind a
 * `--public-url` it is made absolute, so a client can call it as it is. (The `reply-to`
 * header stays relative: endpoints receive the path, as Fides sends it.)
 */
function presentRequest(publicApiUrl: string | undefined): (view: RequestView) => RequestView {
  if (publicApiUrl === undefined) return (view) => view;
  return (view) => (view.resume_endpoint === null ? view : { ...view, resume_endpoint: `${publicApiUrl}${view.resume_endpoint}` });
}

/** A resume or retry that succeeded put the request back in processing. */
function entered(metrics: ServerMetrics, view: RequestView): RequestView {
  metrics.entered(view.status);
  return view;
}
