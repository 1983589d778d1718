/** Which webhooks run through a connection: what stops it from being deleted or pruned. */
import type { ConnectionUser } from './errors.js';
import type { StoredWebhook } from './types.js';

/** The webhooks among `webhooks` that use one of `connectionKeys`, in the order given. */
export function connectionUsers(
  webhooks: Iterable<Pick<StoredWebhook, 'key' | 'policy_key' | 'phase' | 'connection_config_key'>>,
  connectionKeys: ReadonlySet<string>,
): ConnectionUser[] {
  const users: ConnectionUser[] = [];
  for (const w of webhooks) {
    if (connectionKeys.has(w.connection_config_key)) {
      users.push({ connection_key: w.connection_config_key, phase: w.phase, policy_key: w.policy_key, webhook_key: w.key });
    }
  }
  return users;
}
