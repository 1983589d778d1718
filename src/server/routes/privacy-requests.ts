/**
 * Privacy requests: the engine's service functions (src/engine/service.ts) hold the logic
 * and return Fides status codes and bodies; these routes only translate HTTP.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  createPrivacyRequests,
  getPrivacyRequest,
  listPrivacyRequests,
  resumePrivacyRequest,
  retryPrivacyRequest,
  type PrivacyRequestInput,
  type ServiceResult,
} from '../../engine/service.js';
import { REQUEST_STATUSES, type RequestStatus, type RequestView } from '../../engine/requests.js';
import { PAGE_QUERY, type PageQuery } from '../present.js';
import { bodySchema, fidesKeyParams } from '../validation.js';
import type { ServerDeps } from '../app.js';

const idParams = fidesKeyParams('privacy_request_id');

interface IdParams {
  privacy_request_id: string;
}

const LIST_QUERY = {
  ...PAGE_QUERY,
  properties: { ...PAGE_QUERY.properties, id: { type: 'string', allOf: [{ $ref: 'common.schema.json#/definitions/noNul' }] }, status: { type: 'string', enum: [...REQUEST_STATUSES] } },
};

/** Everything but resume (see resumeRoute). */
export async function privacyRequestRoutes(app: FastifyInstance, { db, publicApiUrl }: ServerDeps): Promise<void> {
  const present = presentRequest(publicApiUrl);
  app.post<{ Body: PrivacyRequestInput[] }>(
    '/privacy-request',
    { config: { auth: 'privacy-request:create' }, schema: { body: bodySchema('privacy-request-create') } },
    async (req) => {
      const { succeeded, failed } = await createPrivacyRequests(db, req.body);
      return { succeeded: succeeded.map(present), failed };
    },
  );

  app.get<{ Querystring: PageQuery & { id?: string; status?: RequestStatus } }>(
    '/privacy-request',
    { config: { auth: 'privacy-request:read' }, schema: { querystring: LIST_QUERY } },
    async (req) => {
      const page = await listPrivacyRequests(db, req.query);
      return { ...page, items: page.items.map(present) };
    },
  );

  app.get<{ Params: IdParams }>(
    '/privacy-request/:privacy_request_id',
    { config: { auth: 'privacy-request:read' }, schema: { params: idParams } },
    async (req, reply) => send(reply, await getPrivacyRequest(db, req.params.privacy_request_id), present),
  );

  app.post<{ Params: IdParams }>(
    '/privacy-request/:privacy_request_id/retry',
    { config: { auth: 'privacy-request:resume' }, schema: { params: idParams } },
    async (req, reply) => send(reply, await retryPrivacyRequest(db, req.params.privacy_request_id), present),
  );
}

/**
 * The resume route, authorized by the reply-to token (the engine checks it, in the contract's
 * order, before the body). Registered with and without the /api/v1 prefix: `reply-to` carries the latter.
 */
export async function resumeRoute(app: FastifyInstance, { db, keys, publicApiUrl }: ServerDeps): Promise<void> {
  const present = presentRequest(publicApiUrl);
  // The token is checked before the body (contract §5: 401/403 before 422), so a body that is not
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
    { config: { auth: 'reply-token' }, schema: { params: idParams } },
    async (req, reply) =>
      send(reply, await resumePrivacyRequest(db, keys, req.params.privacy_request_id, req.headers.authorization, req.body), present),
  );
}

/**
 * The engine gives `resume_endpoint` relative to the API base, as Fides does; behind a
 * `--public-url` it is made absolute, so a client can call it as it is. (The `reply-to`
 * header stays relative: the contract fixes its value.)
 */
function presentRequest(publicApiUrl: string | undefined): (view: RequestView) => RequestView {
  if (publicApiUrl === undefined) return (view) => view;
  return (view) => (view.resume_endpoint === null ? view : { ...view, resume_endpoint: `${publicApiUrl}${view.resume_endpoint}` });
}

function send<T>(reply: FastifyReply, result: ServiceResult<T>, present: (body: T) => T): FastifyReply {
  if ('headers' in result && result.headers) reply.headers(result.headers);
  return reply.code(result.status).send(result.status === 200 ? present(result.body) : result.body);
}
