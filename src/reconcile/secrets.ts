/** Resolving declared secret refs and fingerprinting the values; values never leave memory. */
import { resolveAllSecrets } from '../manifest/secrets.js';
import type { DesiredState, SecretInput } from '../manifest/types.js';
import { fingerprintSecrets } from '../state/config-store.js';
import type { Keys } from '../state/keys.js';
import type { HttpsSecrets } from '../model/types.js';
import type { SecretFingerprints } from './plan-types.js';

export type SecretRefs = Record<keyof HttpsSecrets, SecretInput>;

export interface ResolvedSecrets {
  values: Map<string, HttpsSecrets>;
  fingerprints: Map<string, SecretFingerprints>;
}

/**
 * Every connection's secrets, or every problem at once (exit 1 when a ref cannot be resolved,
 * exit 3 for a ref or value that breaks the rules). `secretsDirs`: see `--secrets-dir`.
 */
export function resolveSecrets(
  refs: Iterable<[string, SecretRefs]>,
  keys: Keys,
  env: Record<string, string | undefined>,
  secretsDirs: readonly string[] = [],
): ResolvedSecrets {
  const values = resolveAllSecrets(refs, env, secretsDirs);
  const fingerprints = new Map<string, SecretFingerprints>();
  for (const [connection, secrets] of values) fingerprints.set(connection, fingerprintSecrets(keys, connection, secrets));
  return { values, fingerprints };
}

/** The secrets of every connection the manifests declare. */
export function resolveDeclaredSecrets(
  desired: DesiredState,
  keys: Keys,
  opts: { env: Record<string, string | undefined>; secretsDirs?: readonly string[] },
): ResolvedSecrets {
  return resolveSecrets(desired.connections.map((c) => [c.key, c.secrets]), keys, opts.env, opts.secretsDirs);
}
