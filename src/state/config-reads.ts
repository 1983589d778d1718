/**
 * The configuration as the engine runs it: webhook lists with their connections' settings and
 * secrets (decrypted here, with the state's keys), and which policies exist. Reads only; the
 * writes are config-store.ts's.
 */
import type { Direction, HttpsSecrets, Phase } from '../model/types.js';
import { decryptJson } from './crypto.js';
import type { Database } from './database.js';
import type { Keys } from './keys.js';

/** A webhook as the engine calls it: with its connection's settings and decrypted secrets. */
export interface RunnableWebhook {
  id: string;
  key: string;
  direction: Direction;
  position: number;
  connection_key: string;
  disabled: boolean;
  timeout_ms: number | null;
  /** Null when the connection has no secrets yet. */
  secrets: HttpsSecrets | null;
}

/** The webhooks of one policy and phase, in order. */
export async function readWebhookList(db: Database, keys: Keys, policyKey: string, phase: Phase): Promise<RunnableWebhook[]> {
  const rows: {
    id: string;
    key: string;
    direction: Direction;
    position: number;
    connection_key: string;
    disabled: boolean | number;
    timeout_ms: number | null;
    secrets_encrypted: string | null;
  }[] = await db
    .knex('webhooks as w')
    .join('connections as c', 'c.key', 'w.connection_key')
    .where({ 'w.policy_key': policyKey, 'w.phase': phase })
    .orderBy('w.position')
    .select('w.id', 'w.key', 'w.direction', 'w.position', 'w.connection_key', 'c.disabled', 'c.timeout_ms', 'c.secrets_encrypted');
  // A connection's secrets are decrypted once per list, however many webhooks use it.
  const secretsByConnection = new Map<string, HttpsSecrets | null>();
  return rows.map((row) => {
    if (!secretsByConnection.has(row.connection_key)) {
      secretsByConnection.set(row.connection_key, row.secrets_encrypted ? decryptJson<HttpsSecrets>(keys.secrets, row.secrets_encrypted) : null);
    }
    return {
      id: row.id,
      key: row.key,
      direction: row.direction,
      position: row.position,
      connection_key: row.connection_key,
      // SQLite returns booleans as 0/1.
      disabled: Boolean(row.disabled),
      timeout_ms: row.timeout_ms,
      secrets: secretsByConnection.get(row.connection_key) ?? null,
    };
  });
}

/** Which of these policy keys exist (one query for a whole batch of requests). */
export async function existingPolicyKeys(db: Database, policyKeys: string[]): Promise<Set<string>> {
  const keys = [...new Set(policyKeys)].filter((k) => typeof k === 'string');
  const rows: { key: string }[] = await db.knex('policies').whereIn('key', keys).select('key');
  return new Set(rows.map((r) => r.key));
}
