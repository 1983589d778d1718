/** The Fides server URL given with --fides-url: checked before any request, and normalized into a target id. */
import { ExitCode, HookctlError } from '../errors.js';
import { checkWebhookUrl } from '../model/secrets.js';

/**
 * The target: scheme and host in lower case (the URL parser does both), the default port
 * dropped (likewise), no trailing slash, no query or fragment. Bookkeeping and saved plans are
 * keyed by it, so two spellings of one server share them.
 */
export function normalizeFidesUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw usage(`--fides-url '${text}' is not an absolute URL`);
  }
  // One rule with webhook URLs: https, or http only for loopback (0.0.0.0 is not loopback).
  const problem = checkWebhookUrl(url.href);
  if (problem) throw usage(`--fides-url '${url.origin}': ${problem}`);
  if (url.search !== '' || url.hash !== '') throw usage(`--fides-url '${url.origin}${url.pathname}' must not have a query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function usage(message: string): HookctlError {
  return new HookctlError(message, ExitCode.usage, 'give the server root, e.g. --fides-url https://fides.example.com');
}
