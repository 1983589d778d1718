import crypto from 'node:crypto';
import { ExitCode, HookctlError } from '../errors.js';

/** AES-256-GCM of a JSON value: `v1.<iv>.<tag>.<ciphertext>` (base64url). */
export function encryptJson(key: Buffer, value: unknown): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

export function decryptJson<T>(key: Buffer, blob: string): T {
  const [version, iv, tag, ct] = blob.split('.');
  if (version !== 'v1' || !iv || !tag || ct === undefined) throw new HookctlError('stored secret has an unknown format');
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const pt = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
    return JSON.parse(pt.toString('utf8')) as T;
  } catch {
    throw new HookctlError(
      'cannot decrypt stored secrets: the master key differs from the one that encrypted them',
      ExitCode.runtime,
      'set HOOKCTL_MASTER_KEY to the key this state was created with',
    );
  }
}

/**
 * Keyed fingerprint of a value: comparable across plan and apply, useless to anyone without the
 * master key. Prefixed so that a reader knows it is not the value. Secrets use
 * `secretFingerprint`, which also binds where the value is used.
 */
export function fingerprint(key: Buffer, value: string): string {
  return `hmac-sha256:${crypto.createHmac('sha256', key).update(value, 'utf8').digest('base64url').slice(0, 32)}`;
}

/** What every current secret fingerprint starts with; one without it was made the old way. */
export const SECRET_FINGERPRINT_PREFIX = 'hmac-sha256/v2:';

/**
 * Keyed fingerprint of one connection's secret field. The connection key and field are part of
 * the input, so that two connections sharing a secret do not store equal fingerprints (which
 * would tell a database reader that the secret is reused). Length-prefixed: no two different
 * (connection, field, value) triples hash the same input.
 */
export function secretFingerprint(key: Buffer, connection: string, field: string, value: string): string {
  const hmac = crypto.createHmac('sha256', key).update('hookctl-secret/v2\n');
  for (const part of [connection, field]) hmac.update(`${Buffer.byteLength(part, 'utf8')}:`).update(part, 'utf8');
  return `${SECRET_FINGERPRINT_PREFIX}${hmac.update(value, 'utf8').digest('base64url').slice(0, 32)}`;
}
