/**
 * Response shapes (Fides' own). Built from explicit field lists, so that a stored column that
 * is not part of a response (encrypted secrets, fingerprints, origin) can never leak into one.
 */
import type { PolicyDsrFields, StoredConnection } from '../state/config-store.js';
import type { ConnectionConfig, Policy, StoredWebhook, Webhook } from '../model/types.js';

type ConnectionRecord = ConnectionConfig & Pick<StoredConnection, 'created_at' | 'updated_at'>;

/** `ConnectionConfigurationResponse`: what a webhook embeds; never secrets. */
export function presentConnection(c: ConnectionRecord) {
  return {
    name: c.name,
    key: c.key,
    description: c.description,
    connection_type: c.connection_type,
    access: c.access,
    created_at: c.created_at,
    updated_at: c.updated_at,
    disabled: c.disabled,
    last_test_timestamp: null,
    last_test_succeeded: null,
    saas_config: null,
  };
}

/** The /connection routes add hookctl's per-connection webhook timeout. */
export function presentConnectionDetail(c: ConnectionRecord) {
  return { ...presentConnection(c), timeout_ms: c.timeout_ms };
}

/** `PolicyResponse` without rules: the DSR fields are null until the API sets them. */
export function presentPolicy(p: Policy & PolicyDsrFields) {
  return { key: p.key, name: p.name, drp_action: p.drp_action, execution_timeframe: p.execution_timeframe };
}

/** `PolicyWebhookResponse`. */
export function presentWebhook(w: Webhook & { order: number }, connections: ReadonlyMap<string, StoredConnection>) {
  const connection = connections.get(w.connection_config_key);
  return {
    direction: w.direction,
    key: w.key,
    name: w.name,
    connection_config: connection ? presentConnection(connection) : null,
    order: w.order,
  };
}

export function presentWebhooks(list: readonly StoredWebhook[], connections: ReadonlyMap<string, StoredConnection>) {
  return list.map((w) => presentWebhook(w, connections));
}
