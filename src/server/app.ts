/**
 * The Fides-compatible HTTP API of `hookctl serve` (Fides' paths, bodies and status codes) as a fastify instance.
 * It is built, not started: `serve` listens, tests listen on port 0, the harness embeds it.
 */
import Fastify, { errorCodes, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { verifyApiToken } from './auth.js';
import { bearerToken } from '../bearer.js';
import { FRAMEWORK_ERROR_OPTIONS, installErrorHandling, sendFidesError } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { KEY_MAX_LENGTH } from '../model/keys.js';
import { apiError } from '../model/errors.js';
import { apiSchemaDocuments, createValidatorCompiler } from './validation.js';
import { registerOpenApi } from './openapi.js';
import { metricsRoute, ServerMetrics } from './metrics.js';
import { API_PREFIX, type ServerDeps } from './deps.js';
import { connectionRoutes } from './routes/connections.js';
import { policyRoutes } from './routes/policies.js';
import { webhookRoutes } from './routes/webhooks.js';
import { oauthRoutes } from './routes/oauth.js';
import { privacyRequestRoutes, resumeRoute } from './routes/privacy-requests.js';

export type ServerOptions = Pick<ServerDeps, 'db' | 'keys' | 'rootClient' | 'lockTimeoutMs'> & {
  /** fastify's logger option: false (default), true, or pino options (serve passes redaction). */
  logger?: FastifyServerOptions['logger'];
  /**
   * The URL clients reach this server at (`serve --public-url`): request views then give
   * `resume_endpoint` as an absolute URL under it rather than the relative path.
   */
  publicUrl?: string;
  /** The request and its body must arrive within this, else 408 and the connection is closed (default 30 s). */
  requestTimeoutMs?: number;
};

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: opts.logger ?? false,
    // A path parameter is a key (at most KEY_MAX_LENGTH characters) or a privacy request id.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: KEY_MAX_LENGTH },
    // Default 1 MiB: a full list of 50 webhooks is a few KiB.
    bodyLimit: 1024 * 1024,
    // A client that trickles its request or body must not hold a connection for ever. Node takes
    // the timeout only when the server is created (so it goes in `http` too) and checks it on an
    // interval (30 s by default): a tenth of the timeout keeps the answer close to the deadline.
    requestTimeout,
    http: { requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(requestTimeout / 10))) },
    ...FRAMEWORK_ERROR_OPTIONS,
  });
  const schemas = apiSchemaDocuments();
  app.setValidatorCompiler(createValidatorCompiler(schemas));
  installErrorHandling(app);
  // FastAPI reads a body that has no Content-Type as JSON: Python's `requests.post(url,
  // data=json.dumps(…))`, as the fides CLI calls the API, sends none. Other unknown types stay 415.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if (req.headers['content-type'] !== undefined) return done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(req.headers['content-type']), undefined);
    parseJson(req, body as string, done);
  });

  // The API browser's own pages and assets (hidden from the OpenAPI document) are public.
  app.addHook('onRoute', (route) => {
    if (!route.config?.auth && route.schema?.hide !== true) throw new Error(`route ${String(route.method)} ${route.url} declares no auth`);
  });
  app.decorateRequest('apiClientId', null);

  // onRequest: before the body is read, so that 401/403 win over any body problem.
  app.addHook('onRequest', async (req, reply) => {
    const auth = req.routeOptions.config.auth;
    if (!auth || auth === 'none') return;
    // Refused before its body was read: the connection is closed, so that an unread (perhaps
    // trickled) body cannot keep it open.
    const token = bearerToken(req.headers.authorization);
    if (token === null) return sendFidesError(reply.header('Connection', 'close'), apiError('not_authenticated'));
    if (auth === 'reply-token') return;
    const claims = await verifyApiToken(opts.keys, token);
    if (!claims?.scopes.includes(auth)) return sendFidesError(reply.header('Connection', 'close'), apiError('not_authorized'));
    req.apiClientId = claims.client_id;
  });

  const metrics = new ServerMetrics(opts.db);
  app.decorate('metrics', metrics);
  await registerOpenApi(app, schemas);

  const deps: ServerDeps = {
    db: opts.db,
    keys: opts.keys,
    rootClient: opts.rootClient,
    lockTimeoutMs: opts.lockTimeoutMs,
    publicApiUrl: opts.publicUrl === undefined ? undefined : `${opts.publicUrl.replace(/\/+$/, '')}${API_PREFIX}`,
    metrics,
  };
  await app.register(healthRoutes, { db: opts.db, prefixes: ['', API_PREFIX] });
  await app.register(metricsRoute, { metrics });
  await app.register(oauthRoutes, { prefix: API_PREFIX, ...deps });
  await app.register(connectionRoutes, { prefix: API_PREFIX, ...deps });
  // Current Fides serves policies and their webhooks under /dsr/policy; older clients use /policy.
  for (const prefix of [API_PREFIX, `${API_PREFIX}/dsr`]) {
    await app.register(policyRoutes, { prefix, ...deps });
    await app.register(webhookRoutes, { prefix, ...deps });
  }
  await app.register(privacyRequestRoutes, { prefix: API_PREFIX, ...deps });
  for (const prefix of [API_PREFIX, '']) await app.register(resumeRoute, { prefix, ...deps });
  return app;
}
