import crypto from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';

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
): Promise<IssuedReplyToken> {
  const claims: ReplyTokenClaims = {
    webhook_id: subject.webhookId,
    privacy_request_id: subject.privacyRequestId,
    scopes: [RESUME_SCOPE],
    iat: Math.floor(now.getTime() / 1000),
    exp: (now.getTime() + lifetimeMinutes * 60_000) / 1000,
    jti: crypto.randomUUID(),
  };
  const token = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .encrypt(key);
  return { token, claims };
}

/**
 * Decrypt and check a token: `invalid` when it does not decrypt under the key (tampered,
 * foreign) or its claims are malformed or lack the resume scope; `expired` once `now` has
 * reached `exp`. Which request it is for is the caller's check.
 */
export async function checkReplyToken(key: Uint8Array, token: string, now: Date = new Date()): Promise<ReplyTokenCheck> {
  let claims: unknown;
  try {
    const { plaintext } = await compactDecrypt(token, key, {
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
