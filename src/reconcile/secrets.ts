/** Resolving declared secret refs and fingerprinting the values; values never leave memory. */
import { resolveSecretInput } from '../manifest/secrets.js';
import type { SecretInput } from '../manifest/types.js';
import { fingerprint } from '../state/crypto.js';
import type { Keys } from '../state/keys.js';
import { SECRET_FIELDS, type HttpsSecrets } from '../model/types.js';
import { checkWebhookUrl } from '../manifest/secrets.js';
import { describeSecretInput } from '../manifest/secrets.js';
import { HookctlError, ExitCode } from '../errors.js';
import type { SecretFingerprints } from './plan-types.js';

export type SecretRefs = Record<keyof HttpsSecrets, SecretInput>;

export interface ResolvedSecrets {
  values: Map<string, HttpsSecrets>;
  fingerprints: Map<string, SecretFingerprints>;
}

export function resolveSecrets(refs: Iterable<[string, SecretRefs]>, keys: Keys, env: Record<string, string | undefined>): ResolvedSecrets {
  const values = new Map<string, HttpsSecrets>();
  const fingerprints = new Map<string, SecretFingerprints>();
  for (const [connection, inputs] of refs) {
    const secrets = {} as HttpsSecrets;
    for (const field of SECRET_FIELDS) {
      try {
        secrets[field] = resolveSecretInput(inputs[field], env);
      } catch (err) {
        if (err instanceof HookctlError) {
          throw new HookctlError(`connection '${connection}' secrets.${field}: ${err.message}`, err.exitCode, err.hint);
        }
        throw err;
      }
    }
    const problem = checkWebhookUrl(secrets.url);
    if (problem) {
      throw new HookctlError(
        `connection '${connection}' secrets.url (${describeSecretInput(inputs.url)}): ${problem}`,
        ExitCode.invalid,
        'webhook URLs must be https:// (http:// only for 127.0.0.1, localhost or [::1])',
      );
    }
    values.set(connection, secrets);
    fingerprints.set(connection, fingerprintSecrets(keys, secrets));
  }
  return { values, fingerprints };
}

export function fingerprintSecrets(keys: Keys, secrets: HttpsSecrets): SecretFingerprints {
  return { url: fingerprint(keys.fingerprint, secrets.url), authorization: fingerprint(keys.fingerprint, secrets.authorization) };
}
