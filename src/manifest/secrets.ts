/**
 * Secret refs → values, at plan/apply time. Errors name the ref and the connection, never a
 * value (nor any part of one).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, HookctlError } from '../errors.js';
import type { HttpsSecrets } from '../model/types.js';
import type { DesiredConnection, SecretInput } from './types.js';

const LOOPBACK_HOST = /^(localhost|\[::1\]|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * The webhook URL rule: https://, or http:// only for loopback hosts (127.0.0.0/8, localhost,
 * [::1]) so that local servers work. Returns null when the URL is allowed, else the reason,
 * which never quotes the URL (it may be a secret).
 */
export function checkWebhookUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'it is not an absolute URL (expected https://host/path)';
  }
  if (parsed.protocol === 'https:') return null;
  // The WHATWG parser normalises hosts (127.1 → 127.0.0.1, LOCALHOST → localhost).
  if (parsed.protocol === 'http:' && LOOPBACK_HOST.test(parsed.hostname)) return null;
  if (parsed.protocol === 'http:') return 'http:// is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1]); use https://';
  return 'only https:// URLs are allowed (http:// only for loopback hosts)';
}

/** How a secret is supplied, for plans and messages: never its value. */
export function describeSecretInput(input: SecretInput): string {
  if ('value' in input) return 'literal';
  return 'env' in input.ref ? `env ${input.ref.env}` : `file ${input.ref.file}`;
}

/**
 * The secret's value. `where` (e.g. "connection 'k', secrets.url") goes into error messages.
 * A file's trailing newlines are trimmed; an empty value is an error like a missing one.
 */
export function resolveSecretInput(input: SecretInput, env: Record<string, string | undefined>, where?: string): string {
  if ('value' in input) return input.value;
  const ref = `secret ref ${describeSecretInput(input)}${where ? ` (${where})` : ''}`;
  if ('env' in input.ref) {
    const value = env[input.ref.env];
    if (value === undefined) {
      throw new HookctlError(`${ref} is not set`, ExitCode.runtime, `export ${input.ref.env} before running hookctl, or change the ref in the manifest`);
    }
    if (value === '') throw new HookctlError(`${ref} is set but empty`, ExitCode.runtime, `give ${input.ref.env} the secret's value`);
    return value;
  }
  const file = path.resolve(input.baseDir, input.ref.file);
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new HookctlError(`${ref}: ${file} ${reason}`, ExitCode.runtime, `file refs are relative to the manifest file's folder (${input.baseDir})`);
  }
  const value = content.replace(/(\r?\n)+$/, '');
  if (value === '') throw new HookctlError(`${ref}: ${file} is empty`, ExitCode.runtime, 'write the secret into the file');
  return value;
}

/** Both secrets of a connection, resolved, with the URL rule enforced on the resolved url. */
export function resolveConnectionSecrets(
  connectionKey: string,
  secrets: DesiredConnection['secrets'],
  env: Record<string, string | undefined>,
): HttpsSecrets {
  const where = (field: string) => `connection '${connectionKey}', secrets.${field}`;
  const url = resolveSecretInput(secrets.url, env, where('url'));
  const authorization = resolveSecretInput(secrets.authorization, env, where('authorization'));
  const reason = checkWebhookUrl(url);
  if (reason) {
    throw new HookctlError(
      `${where('url')} (${describeSecretInput(secrets.url)}) is not an allowed webhook URL: ${reason}`,
      ExitCode.invalid,
      'webhook URLs must be https:// (http:// only for 127.0.0.1, localhost or [::1])',
    );
  }
  return { url, authorization };
}
