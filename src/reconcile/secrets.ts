/** Resolving declared secret refs and fingerprinting the values; values never leave memory. */
import { resolveConnectionSecrets } from '../manifest/secrets.js';
import type { SecretInput } from '../manifest/types.js';
import { fingerprint } from '../state/crypto.js';
import type { Keys } from '../state/keys.js';
import type { HttpsSecrets } from '../model/types.js';
import type { SecretFingerprints } from './plan-types.js';

export type SecretRefs = Record<keyof HttpsSecrets, SecretInput>;

export interface ResolvedSecrets {
  values: Map<string, HttpsSecrets>;
  fingerprints: Map<string, SecretFingerprints>;
}

/** Every connection's secrets (exit 1 naming an unresolvable ref, exit 3 for a bad URL). */
export function resolveSecrets(refs: Iterable<[string, SecretRefs]>, keys: Keys, env: Record<string, string | undefined>): ResolvedSecrets {
  const values = new Map<string, HttpsSecrets>();
  const fingerprints = new Map<string, SecretFingerprints>();
  for (const [connection, inputs] of refs) {
    const secrets = resolveConnectionSecrets(connection, inputs, env);
    values.set(connection, secrets);
    fingerprints.set(connection, fingerprintSecrets(keys, secrets));
  }
  return { values, fingerprints };
}

export function fingerprintSecrets(keys: Keys, secrets: HttpsSecrets): SecretFingerprints {
  return { url: fingerprint(keys.fingerprint, secrets.url), authorization: fingerprint(keys.fingerprint, secrets.authorization) };
}
