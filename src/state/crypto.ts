import crypto from 'node:crypto';
import { HookctlError } from '../errors.js';

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
      1,
      'set HOOKCTL_MASTER_KEY to the key this state was created with',
    );
  }
}

/**
 * Keyed fingerprint of a secret value: comparable across plan and apply, useless to anyone
 * without the master key. Prefixed so that a reader knows it is not the value.
 */
export function fingerprint(key: Buffer, value: string): string {
  return `hmac-sha256:${crypto.createHmac('sha256', key).update(value, 'utf8').digest('base64url').slice(0, 32)}`;
}
