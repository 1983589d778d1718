import type { Direction, Phase } from '../model/types.js';
import { fieldList, parseIdentity, type Identity } from './identity.js';
import type { CallResult } from './webhook-client.js';

export interface WebhookRef {
  key: string;
  direction: Direction;
  phase: Phase;
}

/** What one webhook call means for the request: it goes on, halts (pauses), tried to halt too late, or fails. */
export interface CallOutcome {
  /** `halt`: a pre-execution webhook paused the request; `halt_ignored`: a post one tried to. */
  outcome: 'continue' | 'halt' | 'halt_ignored' | 'error';
  /** Non-null derived identity values to merge (also on halt). */
  derived: Partial<Identity>;
  reason: string | null;
}

export function interpretCall(hook: WebhookRef, result: CallResult): CallOutcome {
  if ('error' in result) {
    const cause = result.error === 'timeout' ? result.message : `unreachable: ${result.message}`;
    return failure(`webhook '${hook.key}' ${cause}`);
  }
  if (hook.direction === 'one_way') return { outcome: 'continue', derived: {}, reason: null };
  if (result.status < 200 || result.status > 299) return failure(`webhook '${hook.key}' returned HTTP ${result.status}`);

  const response = parseTwoWayResponse(result.bodyText);
  if ('invalid' in response) return failure(`webhook '${hook.key}' returned an invalid response: ${response.invalid}`);
  const { halt, derived } = response;
  const note = (text: string | null) => withDerived(text, derived);
  if (!halt) return { outcome: 'continue', derived, reason: note(null) };
  if (hook.phase === 'pre') return { outcome: 'halt', derived, reason: note(`webhook '${hook.key}' halted the request until it is resumed`) };
  return {
    outcome: 'halt_ignored',
    derived,
    reason: note(`webhook '${hook.key}' asked to halt; ignored, only pre-execution webhooks can pause a request`),
  };
}

/** Names the derived identity fields (never their values) in the timeline reason. */
function withDerived(reason: string | null, derived: Partial<Identity>): string | null {
  if (Object.keys(derived).length === 0) return reason;
  const merged = `derived identity merged: ${fieldList(derived)}`;
  return reason ? `${reason}; ${merged}` : merged;
}

function failure(reason: string): CallOutcome {
  return { outcome: 'error', derived: {}, reason };
}

/**
 * `{"halt": bool, "derived_identity": {...}?}`. An empty body or `{}` means go on. Anything
 * else that is not such an object is invalid (Fides leaves such requests stuck).
 */
function parseTwoWayResponse(bodyText: string | null): { halt: boolean; derived: Partial<Identity> } | { invalid: string } {
  if (bodyText === null) return { invalid: 'body is larger than 1 MiB' };
  if (bodyText.trim() === '') return { halt: false, derived: {} };
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return { invalid: 'body is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { invalid: 'body is not a JSON object' };
  const fields = body as Record<string, unknown>;
  if (Object.keys(fields).length === 0) return { halt: false, derived: {} };

  const halt = parseHalt(fields.halt);
  if (halt === undefined) {
    return { invalid: fields.halt === undefined ? "'halt' is missing" : "'halt' must be a boolean" };
  }
  if (fields.derived_identity === undefined || fields.derived_identity === null) return { halt, derived: {} };
  const identity = parseIdentity(fields.derived_identity);
  if ('problem' in identity) {
    const { loc, msg } = identity.problem;
    return { invalid: `${['derived_identity', ...loc].join('.')}: ${msg}` };
  }
  return { halt, derived: identity.values };
}

/** A boolean, or the strings "true"/"false" in any case (the Fides docs show a string). */
function parseHalt(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return undefined;
}
