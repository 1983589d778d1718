/**
 * The client-credentials token endpoint, read the way Fides reads it, for the root OAuth client
 * and the clients made with POST /oauth/client.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { issueApiToken, isRootClient, isScope, SCOPES, verifyApiToken } from '../auth.js';
import { bearerToken } from '../../bearer.js';
import { authenticateOAuthClient, createOAuthClient } from '../../state/oauth-clients.js';
import { apiError } from '../../model/errors.js';
import { bodySchema } from '../validation.js';
import type { ServerDeps } from '../deps.js';

/** Lifetime of a token from /oauth/token; tokens cannot be revoked, so it is short. */
export const OAUTH_TOKEN_TTL_MS = 60 * 60 * 1000;

interface TokenForm {
  client_id?: string;
  client_secret?: string;
  grant_type?: string;
  scope?: string;
}

export async function oauthRoutes(app: FastifyInstance, { db, keys, rootClient }: ServerDeps): Promise<void> {
  // Fides reads the token form with FastAPI's Form(), which takes urlencoded and multipart
  // bodies alike (Postman's "form-data", curl -F). Both parsers live in this plugin only.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  // Text fields only, few and small: a token form has four.
  await app.register(multipart, { attachFieldsToBody: 'keyValues', limits: { files: 0, fields: 20, parts: 20, fieldSize: 16 * 1024 } });

  app.addHook('preValidation', async (req) => {
    // Only the token route reads a form; POST /oauth/client takes JSON as it comes.
    if (!req.routeOptions.url?.endsWith('/oauth/token')) return;
    // No body is an empty form (Fides then tries HTTP Basic, or answers 401).
    if (req.body === undefined || req.body === null) req.body = {};
    // FastAPI takes an empty form field as absent (so `grant_type=` passes, `client_id=` falls back to Basic).
    if (!req.headers['content-type']?.includes('json') && typeof req.body === 'object' && !Array.isArray(req.body)) {
      req.body = Object.fromEntries(Object.entries(req.body as Record<string, unknown>).filter(([, v]) => v !== ''));
    }
  });

  app.post<{ Body: TokenForm }>('/oauth/token', { config: { auth: 'none' }, schema: { summary: 'Get an API token for an OAuth client (client credentials)', body: bodySchema('oauth-token') } }, async (req) => {
    const { client_id: clientId, client_secret: clientSecret } = clientCredentials(req.body, req.headers.authorization);
    // The root client holds every scope; a client made with POST /oauth/client, the scopes it was given.
    const scopes = isRootClient(rootClient, clientId, clientSecret) ? SCOPES : (await authenticateOAuthClient(db.knex, keys, clientId, clientSecret))?.scopes.filter(isScope);
    if (!scopes) throw apiError('authentication_failure');
    const issuedAt = new Date();
    return {
      access_token: await issueApiToken(keys, scopes, OAUTH_TOKEN_TTL_MS, clientId),
      token_type: 'Bearer',
      expires_in: OAUTH_TOKEN_TTL_MS / 1000,
      expires_at: naiveLocalIso(new Date(issuedAt.getTime() + OAUTH_TOKEN_TTL_MS)),
    };
  });

  // Fides 2.82+ takes `{name?, description?, scopes}`; earlier versions a bare array of scopes.
  app.post<{ Body: string[] | { name?: string; description?: string; scopes?: string[] } }>(
    '/oauth/client',
    { config: { auth: 'client:create' }, schema: { summary: 'Create an OAuth client with some scopes (its secret is shown once)', body: bodySchema('oauth-client-create') } },
    async (req) => {
      const fields = Array.isArray(req.body) ? { scopes: req.body } : { ...req.body, scopes: req.body.scopes ?? [] };
      const unknown = fields.scopes.filter((scope) => !isScope(scope));
      if (unknown.length > 0) throw apiError('invalid_scope', SCOPES);
      // Nobody grants scopes they do not hold (the root client holds them all).
      const held = (await verifyApiToken(keys, bearerToken(req.headers.authorization) ?? ''))?.scopes ?? [];
      const missing = fields.scopes.filter((scope) => !(held as string[]).includes(scope));
      if (missing.length > 0) throw apiError('scopes_not_held', missing);
      return createOAuthClient(db.knex, keys, { ...fields, scopes: [...new Set(fields.scopes)] });
    },
  );
}

/**
 * The form's credentials when it has both, else HTTP Basic's (Fides' order). A Basic header
 * that does not decode is 401 whatever the form holds, as FastAPI's HTTPBasic answers.
 */
function clientCredentials(form: TokenForm, authorization: string | undefined): { client_id: string; client_secret: string } {
  const basic = basicCredentials(authorization);
  if (form.client_id !== undefined && form.client_secret !== undefined) return { client_id: form.client_id, client_secret: form.client_secret };
  if (basic) return basic;
  throw apiError('authentication_failure');
}

function basicCredentials(authorization: string | undefined): { client_id: string; client_secret: string } | null {
  const m = authorization === undefined ? null : /^Basic(?:\s+(.*))?$/i.exec(authorization.trim());
  if (!m) return null;
  const encoded = (m[1] ?? '').trim();
  const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 0) throw apiError('invalid_credentials');
  return { client_id: decoded.slice(0, colon), client_secret: decoded.slice(colon + 1) };
}

/**
 * `expires_at` as Fides writes it, Python's `datetime.now().isoformat()`: the server's local
 * time with microseconds and no offset. Python clients compare it with a naive `datetime.now()`,
 * which an offset would break.
 */
function naiveLocalIso(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}` +
    `T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`
  );
}
