import crypto from 'node:crypto';
import { compactDecrypt } from 'jose';

/** `privacy_request_delay_timeout`: token lifetime in minutes (Fides' default, 60 hours). */
export const DEFAULT_RESUME_TIMEOUT_MINUTES = 3600;

export const RESUME_SCOPE = 'privacy-request:resume';

/**
 * The claims of a reply-to token. Unlike Fides' (webhook id and scope only), it is bound to
 * one request and one pause (`jti`, recorded when the request pauses) and expires.
 */
export interface ReplyTokenClaims {
  webhook_id: string;
  privacy_request_id: string;
  scopes: string[];
  /** Seconds since the epoch. */
  iat: number;
  /** Seconds since the epoch (may have a fraction: lifetimes are minutes with fractions). */
  exp: number;
  jti: string;
}

export interface IssuedReplyToken {
  token: string;
  claims: ReplyTokenClaims;
}

export type ReplyTokenCheck =
  | { kind: 'ok'; claims: ReplyTokenClaims }
  | { kind: 'expired'; claims: ReplyTokenClaims }
  | { kind: 'invalid' };

/** A compact JWE, `{"alg":"dir","enc":"A256GCM"}`, under `Keys.replyToken`. */
export async function issueReplyToken(
  key: Uint8Array,
  subject: { webhookId: string; privacyRequestId: string },
  lifetimeMinutes: number,
  now: Date = new Date(),
  jti: string = crypto.randomUUID(),
): Promise<IssuedReplyToken> {
  const claims: ReplyTokenClaims = {
    webhook_id: subject.webhookId,
    privacy_request_id: subject.privacyRequestId,
    scopes: [RESUME_SCOPE],
    iat: Math.floor(now.getTime() / 1000),
    exp: (now.getTime() + lifetimeMinutes * 60_000) / 1000,
    jti,
  };
  return { token: encryptCompact(key, JSON.stringify(claims)), claims };
}

/** `{"alg":"dir","enc":"A256GCM"}`, base64url: the protected header, also the AAD. */
const PROTECTED_HEADER = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM' })).toString('base64url');

/**
 * Compact JWE serialization of `dir` + `A256GCM` (RFC 7516 §7.1, no encrypted key), done
 * synchronously with node:crypto: jose's WebCrypto round trip cost a two-way pre-execution
 * call more than the encryption itself. jose decrypts it (checkReplyToken, tests).
 */
function encryptCompact(key: Uint8Array, plaintext: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(PROTECTED_HEADER, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${PROTECTED_HEADER}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/**
 * Decrypt and check a token: `invalid` when it does not decrypt under the key (tampered,
 * foreign) or its claims are malformed or lack the resume scope; `expired` once `now` has
 * reached `exp`. Which request it is for is the caller's check.
 */
export async function checkReplyToken(key: Uint8Array, token: string, now: Date = new Date()): Promise<ReplyTokenCheck> {
  let claims: unknown;
  try {
    const { plaintext } = await compactDecrypt(token, await cryptoKey(key), {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    claims = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    return { kind: 'invalid' };
  }
  if (!isReplyTokenClaims(claims) || !claims.scopes.includes(RESUME_SCOPE)) return { kind: 'invalid' };
  return now.getTime() / 1000 >= claims.exp ? { kind: 'expired', claims } : { kind: 'ok', claims };
}

/**
 * The key imported once: given the raw bytes, jose imports a WebCrypto key on every token.
 */
const imported = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function cryptoKey(key: Uint8Array): Promise<CryptoKey> {
  let found = imported.get(key);
  if (!found) {
    found = crypto.webcrypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
    imported.set(key, found);
  }
  return found;
}

function isReplyTokenClaims(value: unknown): value is ReplyTokenClaims {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.webhook_id === 'string' &&
    typeof c.privacy_request_id === 'string' &&
    Array.isArray(c.scopes) &&
    c.scopes.every((s) => typeof s === 'string') &&
    typeof c.iat === 'number' &&
    typeof c.exp === 'number' &&
    typeof c.jti === 'string'
  );
}
