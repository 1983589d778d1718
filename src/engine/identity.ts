import type { RequestRow } from '../state/request-types.js';

/** The identity a privacy request is about: what webhooks receive and may add to. */
export interface Identity {
  email: string | null;
  phone_number: string | null;
}

export const IDENTITY_FIELDS: readonly (keyof Identity)[] = ['email', 'phone_number'];

export function emptyIdentity(): Identity {
  return { email: null, phone_number: null };
}

/** One validation problem, shaped like a Fides/pydantic error (`loc` is relative to the identity). */
export interface IdentityProblem {
  loc: string[];
  msg: string;
  type: string;
}

/**
 * Read an identity object as given by a client or returned by a webhook (`derived_identity`):
 * only `email` and `phone_number`, each a non-empty string or null. Returns the non-null
 * values (what a merge overwrites), or the first problem.
 */
export function parseIdentity(value: unknown): { values: Partial<Identity> } | { problem: IdentityProblem } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: { loc: [], msg: 'value is not a valid dict', type: 'type_error.dict' } };
  }
  const values: Partial<Identity> = {};
  for (const [field, v] of Object.entries(value)) {
    if (!(IDENTITY_FIELDS as readonly string[]).includes(field)) {
      return { problem: { loc: [field], msg: 'extra fields not permitted', type: 'value_error.extra' } };
    }
    if (v === null) continue;
    if (typeof v !== 'string') return { problem: { loc: [field], msg: 'str type expected', type: 'type_error.str' } };
    if (v === '') {
      return { problem: { loc: [field], msg: 'ensure this value has at least 1 characters', type: 'value_error.any_str.min_length' } };
    }
    values[field as keyof Identity] = v;
  }
  return { values };
}

export function mergeIdentity(base: Identity, values: Partial<Identity>): Identity {
  return { ...base, ...values };
}

/** "email, phone_number": the fields a merge sets, for timeline reasons (never the values). */
export function fieldList(values: Partial<Identity>): string {
  return Object.keys(values).join(', ');
}

/** The identity a request row holds (JSON). */
export function requestIdentity(row: Pick<RequestRow, 'identity'>): Identity {
  return JSON.parse(row.identity) as Identity;
}
