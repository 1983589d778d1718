/**
 * OAuth clients made through the API (POST /oauth/client). The secret is random and shown once;
 * only its keyed hash is stored, so the database alone cannot yield a working credential.
 */
import crypto from 'node:crypto';
import type { Queryable } from './queryable.js';
import { fingerprint } from './crypto.js';
import type { Keys } from './keys.js';

export interface OAuthClient {
  client_id: string;
  name: string | null;
  description: string | null;
  scopes: string[];
  created_at: string;
}

interface OAuthClientRow extends Omit<OAuthClient, 'scopes'> {
  secret_hash: string;
  scopes: string;
}

function secretHash(keys: Keys, clientId: string, secret: string): string {
  return fingerprint(keys.fingerprint, `oauth-client\0${clientId}\0${secret}`);
}

/** A new client with these scopes; returns its id and its secret (the only time it is known). */
export async function createOAuthClient(
  q: Queryable,
  keys: Keys,
  fields: { name?: string | null; description?: string | null; scopes: string[] },
): Promise<{ client_id: string; client_secret: string }> {
  const client_id = crypto.randomBytes(16).toString('hex');
  const client_secret = crypto.randomBytes(24).toString('base64url');
  const row: OAuthClientRow = {
    client_id,
    secret_hash: secretHash(keys, client_id, client_secret),
    name: fields.name ?? null,
    description: fields.description ?? null,
    scopes: JSON.stringify(fields.scopes),
    created_at: new Date().toISOString(),
  };
  await q('oauth_clients').insert(row);
  return { client_id, client_secret };
}

/** The client whose id and secret these are, or null (unknown id and wrong secret alike). */
export async function authenticateOAuthClient(q: Queryable, keys: Keys, clientId: string, secret: string): Promise<OAuthClient | null> {
  const row = (await q('oauth_clients').where({ client_id: clientId }).first()) as OAuthClientRow | undefined;
  const expected = secretHash(keys, clientId, secret);
  // Hashes have one fixed length, so the constant-time comparison can be applied as is.
  const same = row !== undefined && row.secret_hash.length === expected.length && crypto.timingSafeEqual(Buffer.from(row.secret_hash), Buffer.from(expected));
  if (!row || !same) return null;
  return { client_id: row.client_id, name: row.name, description: row.description, scopes: JSON.parse(row.scopes) as string[], created_at: row.created_at };
}
