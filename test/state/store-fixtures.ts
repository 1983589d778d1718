/** Shared set-up of the state tests: open a backend, empty it, build configuration values. */
import type { Backend } from '../helpers/backends.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../../src/state/database.js';
import type { ConnectionConfig, Phase, StoredWebhook, Webhook } from '../../src/model/types.js';
import { readState, saveWebhookLists, upsertConnections, upsertPolicies } from '../../src/state/config-store.js';
import { withStateLock } from '../../src/state/lock.js';

export const NOW = '2030-01-01T00:00:00.000Z';
export const LATER = '2030-01-02T00:00:00.000Z';

export function openBackend(backend: Backend): Promise<Database> {
  return openDatabase(parseDatabaseUrl(backend.url, backend.dir));
}

/** Back to the freshly migrated state, so that tests sharing a database stay independent. */
export async function resetState(db: Database): Promise<void> {
  await db.knex.transaction(async (trx) => {
    for (const table of ['webhooks', 'policies', 'connections', 'revisions']) await trx(table).del();
    await trx('hookctl_meta').where({ name: 'serial' }).update({ value: '0' });
  });
}

export function connection(key: string, fields: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return { key, name: `${key} name`, connection_type: 'https', access: 'read', description: null, disabled: false, timeout_ms: null, ...fields };
}

export function hook(key: string, fields: Partial<Webhook> = {}): Webhook {
  return { key, name: `${key} name`, connection_config_key: 'conn', direction: 'one_way', ...fields };
}

/** One connection `conn`, the given policies, and their pre lists (webhooks named `<key> name`). */
export async function seed(db: Database, lists: Record<string, string[]>, phase: Phase = 'pre'): Promise<void> {
  await withStateLock(db, 5000, async (trx) => {
    await upsertConnections(trx, [{ config: connection('conn') }], NOW);
    await upsertPolicies(trx, Object.keys(lists).map((key) => ({ policy: { key, name: `${key} policy` } })), NOW);
    await saveWebhookLists(
      trx,
      Object.entries(lists).map(([policy_key, keys]) => ({ policy_key, phase, current: [], next: keys.map((k) => hook(k)) })),
      NOW,
    );
  });
}

/** The stored list of a policy: what a user sees through the API. */
export async function storedList(db: Database, policyKey: string, phase: Phase = 'pre'): Promise<StoredWebhook[]> {
  return (await readState(db.knex)).webhooks[phase].get(policyKey) ?? [];
}
