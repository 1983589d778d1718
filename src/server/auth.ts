/**
 * API bearer tokens: compact JWE (`dir`/A256GCM) under the API-token key derived from the master
 * key, so nothing but this state's key can mint or read them. Claims: {scopes, iat, exp, client_id}.
 */
import crypto from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import type { Keys } from '../state/keys.js';

/** Every scope of the HTTP API, named as Fides names them; the root client gets them all. */
export const SCOPES = [
  'connection:read',
  'connection:create_or_update',
  'connection:delete',
  'policy:read',
  'policy:create_or_update',
  'webhook:read',
  'webhook:create_or_update',
  'webhook:delete',
  'privacy-request:create',
  'privacy-request:read',
  'privacy-request:resume',
  'policy:delete',
  'client:create',
] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export interface ApiTokenClaims {
  scopes: Scope[];
  /** Seconds since the epoch (JWT NumericDate). */
  iat: number;
  exp: number;
  client_id: string;
}

const HEADER = { alg: 'dir', enc: 'A256GCM' } as const;

/** `clientId` names who the token is for; API writes made with it are recorded as `api:<clientId>`. */
export async function issueApiToken(keys: Keys, scopes: readonly Scope[], ttlMs: number, clientId: string): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const claims: ApiTokenClaims = { scopes: [...scopes], iat, exp: iat + Math.max(1, Math.ceil(ttlMs / 1000)), client_id: clientId };
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(HEADER).encrypt(keys.apiToken);
}

/** The token's claims, or null when it is undecryptable, tampered, malformed or expired. */
export async function verifyApiToken(keys: Keys, token: string): Promise<ApiTokenClaims | null> {
  let payload: unknown;
  try {
    const { plaintext } = await compactDecrypt(token, keys.apiToken, {
      keyManagementAlgorithms: [HEADER.alg],
      contentEncryptionAlgorithms: [HEADER.enc],
    });
    payload = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    return null;
  }
  if (!isClaims(payload)) return null;
  return payload.exp > Date.now() / 1000 ? payload : null;
}

function isClaims(v: unknown): v is ApiTokenClaims {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    Array.isArray(c.scopes) &&
    c.scopes.every((s) => typeof s === 'string' && isScope(s)) &&
    typeof c.iat === 'number' &&
    typeof c.exp === 'number' &&
    typeof c.client_id === 'string'
  );
}


/** The API's root OAuth client (HOOKCTL_OAUTH_ROOT_CLIENT_ID / _SECRET). */
export interface RootClient {
  id: string;
  secret: string;
}

export function rootClientFromEnv(env: NodeJS.ProcessEnv = process.env): RootClient | undefined {
  const id = env.HOOKCTL_OAUTH_ROOT_CLIENT_ID;
  const secret = env.HOOKCTL_OAUTH_ROOT_CLIENT_SECRET;
  return id && secret ? { id, secret } : undefined;
}

/** Constant-time check of client credentials (hashing first evens out the lengths). */
export function isRootClient(root: RootClient | undefined, clientId: string, clientSecret: string): boolean {
  if (!root) return false;
  const same = (a: string, b: string) =>
    crypto.timingSafeEqual(crypto.createHash('sha256').update(a).digest(), crypto.createHash('sha256').update(b).digest());
  // Both comparisons always run: no early exit that tells which one failed.
  return [same(root.id, clientId), same(root.secret, clientSecret)].every(Boolean);
}
