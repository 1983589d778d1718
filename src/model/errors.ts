/**
 * Every error the HTTP API answers with a `{"detail": "…"}`, declared once: its code, its
 * status, its message (upstream's wording where Fides has the same error) and any headers.
 * Routes, services and the model throw `apiError(code, …)`; the server's error handler sends it.
 * The problems of one item of a bulk PATCH (its `failed` entries) are listed here too.
 */
import { PHASE_NAMES } from './phases.js';
import type { Phase } from './types.js';

/** One problem of a request body, as Fides (pydantic) lists them in a 422 `detail`. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** An error with a Fides HTTP status and `detail`: a message, or a 422's list of problems. */
export class FidesError extends Error {
  /** The catalogue code (API_ERRORS), for logs and tests; clients see only status and detail. */
  readonly code: string;
  /** For PUT: the position of the offending item in the request body. */
  readonly index?: number;

  constructor(
    readonly status: number,
    readonly detail: string | ValidationIssue[],
    /** Sent with the answer (`WWW-Authenticate`, `Retry-After`…). */
    readonly headers?: Readonly<Record<string, string>>,
    options: { code?: string; index?: number } = {},
  ) {
    super(typeof detail === 'string' ? detail : detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '));
    this.name = 'FidesError';
    this.code = options.code ?? 'unlisted';
    if (options.index !== undefined) this.index = options.index;
  }

  /** The same error, blamed on item `index` of a list body. */
  at(index: number): FidesError {
    return new FidesError(this.status, this.detail, this.headers, { code: this.code, index });
  }
}

interface ApiErrorSpec {
  status: number;
  message: (...args: never[]) => string;
  headers?: Readonly<Record<string, string>>;
}

export const API_ERRORS = {
  // Authentication and authorization.
  not_authenticated: { status: 401, message: () => 'Failed to authenticate', headers: { 'WWW-Authenticate': 'Bearer' } },
  not_authorized: { status: 403, message: () => 'Not Authorized for this action' },
  /** The token endpoint's answer to every credential problem (missing, unknown, wrong). */
  authentication_failure: { status: 401, message: () => 'Authentication Failure' },
  /** An HTTP Basic header that does not decode to `id:secret`. */
  invalid_credentials: { status: 401, message: () => 'Invalid authentication credentials' },
  reply_token_expired: { status: 403, message: () => 'Webhook token expired' },

  // Not found.
  route_not_found: { status: 404, message: () => 'Not Found' },
  connection_not_found: { status: 404, message: (key: string) => `No connection configuration found with key '${key}'.` },
  policy_not_found: { status: 404, message: (key: string) => `No Policy found for key ${key}.` },
  webhook_not_found: {
    status: 404,
    message: (phase: Phase, key: string, policyKey: string) => `No ${PHASE_NAMES[phase].title} Webhook found for key '${key}' on Policy '${policyKey}'.`,
  },
  privacy_request_not_found: { status: 404, message: (id: string) => `No privacy request found with id '${id}'.` },

  // Webhook lists (collisions are 400, never upstream's 500).
  webhook_key_not_derivable: { status: 400, message: (index: number, problem: string) => `Webhook at position ${index} ${problem}; set a key.` },
  webhook_listed_twice: { status: 400, message: () => 'Check request body: there are multiple webhooks whose keys or names resolve to the same value.' },
  webhook_key_taken: {
    status: 400,
    message: (phase: Phase, key: string, owner: string) =>
      `Webhook key '${key}' already belongs to Policy '${owner}'; a ${PHASE_NAMES[phase].className} key is unique across policies.`,
  },
  webhook_name_missing: { status: 400, message: (key: string) => `Webhook '${key}' is new and needs a name.` },
  webhook_name_taken: { status: 400, message: (phase: Phase, name: string) => `Name ${name} already exists in ${PHASE_NAMES[phase].className}.` },
  webhook_order_out_of_range: {
    status: 400,
    message: (phase: Phase, order: number, count: number) =>
      `Cannot set order to ${order}: there are only ${count} ${PHASE_NAMES[phase].className}(s) defined on this Policy.`,
  },
  connection_unusable: { status: 400, message: (key: string, reason: string) => `Connection configuration '${key}' cannot run webhooks: ${reason}.` },

  // Policies.
  /** A privacy request refers to the policy: upstream answers 409 and keeps it. */
  policy_in_use: { status: 409, message: (key: string) => `Cannot delete policy ${key}: it is referenced by one or more privacy requests.` },
  policy_has_webhooks: {
    status: 400,
    message: (key: string, count: number) => `Cannot delete policy ${key}: it has ${count} webhook(s). Empty its pre_execution and post_execution lists (PUT []) first.`,
  },

  // OAuth clients.
  invalid_scope: { status: 403, message: (valid: readonly string[]) => `Invalid Scope. Scopes must be one of ${pythonList(valid)}.` },
  scopes_not_held: { status: 403, message: (missing: readonly string[]) => `Cannot assign scopes that you do not have. Missing scopes: ${pythonList(missing)}` },

  // Privacy requests.
  resume_not_paused: { status: 400, message: (id: string, status: string) => `Invalid resume request: privacy request '${id}' status = ${status}.` },
  retry_not_failed: { status: 400, message: (id: string, status: string) => `Cannot restart privacy request from failure: privacy request '${id}' status = ${status}.` },
  retry_without_failed_step: { status: 400, message: (id: string) => `Cannot restart privacy request from failure '${id}'; no failed step or collection.` },
  unsupported_filter: { status: 400, message: (name: string) => `Filtering privacy requests by '${name}' is not supported by hookctl.` },
  unsupported_download: { status: 400, message: () => 'download_csv is not supported by hookctl.' },
  unsupported_sort: { status: 400, message: (field: string) => `Sorting privacy requests by '${field}' is not supported by hookctl; use created_at.` },

  // The server itself.
  /** An apply holds the state lock past the write's wait. */
  state_busy: { status: 503, message: (reason: string) => `${reason}; try again`, headers: { 'Retry-After': '1' } },
  path_parameter_too_long: { status: 414, message: () => 'URI Too Long: a path parameter is longer than any key can be' },
  bad_percent_encoding: { status: 400, message: () => 'Bad Request: the path is not valid percent-encoding' },
  request_timeout: { status: 408, message: () => 'Request Timeout: the request and its body must arrive within the request timeout' },
  headers_too_large: { status: 431, message: () => 'Request Header Fields Too Large' },
  bad_http: { status: 400, message: () => 'Bad Request: the request is not valid HTTP' },
  internal: { status: 500, message: () => 'Internal Server Error' },
} as const satisfies Record<string, ApiErrorSpec>;

export type ApiErrorCode = keyof typeof API_ERRORS;
type ApiErrorArgs<C extends ApiErrorCode> = Parameters<(typeof API_ERRORS)[C]['message']>;

/** A list as Fides' messages print one (Python's repr). */
function pythonList(items: readonly string[]): string {
  return `[${items.map((item) => `'${item}'`).join(', ')}]`;
}

/** The catalogue's error `code`, with its message filled in. */
export function apiError<C extends ApiErrorCode>(code: C, ...args: ApiErrorArgs<C>): FidesError {
  const spec: ApiErrorSpec = API_ERRORS[code];
  const message = spec.message as (...a: ApiErrorArgs<C>) => string;
  return new FidesError(spec.status, message(...args), spec.headers, { code });
}

/** Why one item of a bulk PATCH (connections, policies) goes to `failed` instead of being written. */
export const ITEM_PROBLEMS = {
  invalidKey: (problem: string) => `The key is not a valid FidesKey: ${problem}; set a key.`,
  repeatedKey: (kind: 'connection' | 'policy', key: string) => `The ${kind} key '${key}' appears more than once in this request.`,
  drpActionTaken: (action: string, holder: string) => `DRP Action ${action} already exists in policy ${holder}.`,
  unsupportedConnectionType: (type: string) => `Connection type '${type}' is not supported: hookctl connections are 'https' (policy webhooks).`,
} as const;

/** A webhook that runs through a connection. */
export interface ConnectionUser {
  connection_key: string;
  phase: Phase;
  policy_key: string;
  webhook_key: string;
}

/**
 * A connection that webhooks still use is not deleted (through the API) nor pruned (by apply):
 * the webhooks would be left pointing at nothing. One refusal, worded for each audience: the
 * API's `detail` names up to three users; the CLI's `line` and `hint` name the first.
 */
export class ConnectionInUseError extends FidesError {
  readonly connectionKey: string;
  readonly users: readonly ConnectionUser[];

  constructor(
    readonly verb: 'delete' | 'prune',
    /** Users of one connection (the first one's, if several are given); at least one. */
    users: readonly ConnectionUser[],
  ) {
    const connectionKey = users[0]!.connection_key;
    const own = users.filter((u) => u.connection_key === connectionKey);
    const named = own.slice(0, 3).map((u) => `${PHASE_NAMES[u.phase].word} webhook '${u.webhook_key}' of Policy '${u.policy_key}'`);
    const shown = named.join(', ') + (own.length > 3 ? ` and ${own.length - 3} more` : '');
    super(400, `Cannot ${verb} connection '${connectionKey}': it is used by ${shown}. Remove those webhooks or point them at another connection first.`, undefined, {
      code: 'connection_in_use',
    });
    this.connectionKey = connectionKey;
    this.users = own;
  }

  /** As a CLI error line: lower case, the first user named, the advice left to `hint`. */
  get line(): string {
    const u = this.users[0]!;
    return `cannot ${this.verb} connection '${this.connectionKey}': the ${u.phase} webhook '${u.webhook_key}' of policy '${u.policy_key}' still uses it`;
  }

  get hint(): string {
    return this.verb === 'prune'
      ? 'declare that connection again, or remove the webhooks that use it first'
      : 'remove the webhooks that use the connection, or point them at another one, first';
  }
}
