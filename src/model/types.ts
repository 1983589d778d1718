/**
 * The Fides policy-webhook domain, shared by manifests, the state store, the reconciler,
 * the HTTP API and the engine. Field names are the Fides API's own.
 */

export type Direction = 'one_way' | 'two_way';

/** `callback_type` in the webhook body; also names the two webhook tables. */
export type Phase = 'pre' | 'post';
export const PHASES: readonly Phase[] = ['pre', 'post'];

export type Access = 'read' | 'write';

/** Upstream limit: at most 50 webhooks per (policy, phase) list. */
export const MAX_WEBHOOKS_PER_LIST = 50;

export interface ConnectionConfig {
  key: string;
  name: string;
  connection_type: 'https';
  access: Access;
  description: string | null;
  disabled: boolean;
  /** Per-connection webhook timeout; wins over the server/CLI default. */
  timeout_ms: number | null;
}

/** The two HTTPS secrets of a connection, resolved (plaintext: handle with care). */
export interface HttpsSecrets {
  url: string;
  authorization: string;
}
export const SECRET_FIELDS: readonly (keyof HttpsSecrets)[] = ['url', 'authorization'];

export interface Policy {
  key: string;
  name: string;
}

/** One webhook of a list; its order is its position in the list. */
export interface Webhook {
  key: string;
  name: string;
  connection_config_key: string;
  direction: Direction;
}

/** A stored webhook: a Webhook with its identity and position. */
export interface StoredWebhook extends Webhook {
  id: string;
  policy_key: string;
  phase: Phase;
  order: number;
}

/** Who created a stored resource: `--prune` deletes only what hookctl's apply created. */
export type Origin = 'manifest' | 'api';

/** `{key, order}` as returned by PATCH and DELETE (`new_order`). */
export interface WebhookOrder {
  key: string;
  order: number;
}
