/**
 * The rules a connection's secret values must meet, wherever they are written (manifests at
 * plan/apply time, the HTTP API, simulations). Each returns null when the value is allowed,
 * else the reason, which never quotes the value (it is a secret).
 */
import type { HttpsSecrets } from './types.js';

/**
 * hookctl's own files beside an embedded state: the default state folder and the master key file
 * (created beside any SQLite state). A secret ref may never read them: the manifest that declares
 * the ref also declares where its value is sent.
 */
export const STATE_DIR_NAME = '.hookctl';
export const MASTER_KEY_FILE_NAME = 'master.key';

/** Whether a path (as written or resolved) is one of hookctl's own state files. */
export function isStateFile(file: string): boolean {
  const segments = file.split(/[\\/]+/);
  return segments.includes(STATE_DIR_NAME) || segments.at(-1) === MASTER_KEY_FILE_NAME;
}

const LOOPBACK_HOST = /^(localhost|\[::1\]|127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * The webhook URL rule: https://, or http:// only for loopback hosts (127.0.0.0/8, localhost,
 * [::1]) so that local servers work; and no user or password in it (a credential there would
 * travel with every call and show up in logs; `authorization` is where credentials go).
 */
export function checkWebhookUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'it is not an absolute URL (expected https://host/path)';
  }
  if (parsed.username !== '' || parsed.password !== '') return 'it carries a user name or password; put credentials in authorization instead';
  if (parsed.protocol === 'https:') return null;
  // The WHATWG parser normalises hosts (127.1 → 127.0.0.1, LOCALHOST → localhost).
  if (parsed.protocol === 'http:' && LOOPBACK_HOST.test(parsed.hostname)) return null;
  if (parsed.protocol === 'http:') return 'http:// is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1]); use https://';
  return 'only https:// URLs are allowed (http:// only for loopback hosts)';
}

/**
 * The authorization is sent verbatim as a header value: CR or LF would split the header (or be
 * refused by the HTTP client on every call), NUL is never valid in one.
 */
export function checkAuthorization(value: string): string | null {
  return /[\r\n\0]/.test(value) ? 'it contains a line break (CR or LF) or a NUL character, which a header value cannot hold' : null;
}

/** The rule of one secret field. */
export function checkSecretValue(field: keyof HttpsSecrets, value: string): string | null {
  return field === 'url' ? checkWebhookUrl(value) : checkAuthorization(value);
}
