/** The client-credentials token endpoint of the API's root OAuth client. */
import type { FastifyInstance } from 'fastify';
import { issueApiToken, isRootClient, SCOPES } from '../auth.js';
import { FidesError } from '../../model/webhook-lists.js';
import { bodySchema } from '../validation.js';
import type { ServerDeps } from '../app.js';

/** Lifetime of a token from /oauth/token; tokens cannot be revoked, so it is short. */
export const OAUTH_TOKEN_TTL_MS = 60 * 60 * 1000;

export async function oauthRoutes(app: FastifyInstance, { keys, rootClient }: ServerDeps): Promise<void> {
  // OAuth clients send form bodies; a plain parser suffices (no file uploads, no nesting).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post<{ Body: { client_id: string; client_secret: string } }>(
    '/oauth/token',
    { config: { auth: 'none' }, schema: { body: bodySchema('oauth-token') } },
    async (req) => {
      if (!isRootClient(rootClient, req.body.client_id, req.body.client_secret)) throw new FidesError(401, 'Failed to authenticate');
      return { access_token: await issueApiToken(keys, SCOPES, OAUTH_TOKEN_TTL_MS, req.body.client_id), token_type: 'Bearer' };
    },
  );
}
