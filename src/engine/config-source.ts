import type { Knex } from 'knex';
import type { Direction, HttpsSecrets, Phase } from '../model/types.js';
import { decryptJson } from '../state/crypto.js';
import type { Keys } from '../state/keys.js';

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

/** The webhooks of one policy and phase, in order, read at the moment a step starts. */
export async function loadWebhookList(knex: Knex, keys: Keys, policyKey: string, phase: Phase): Promise<RunnableWebhook[]> {
  const rows: {
    id: string;
    key: string;
    direction: Direction;
    position: number;
    connection_key: string;
    disabled: boolean | number;
    timeout_ms: number | null;
    secrets_encrypted: string | null;
  }[] = await knex('webhooks as w')
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
      disabled: Boolean(row.disabled),
      timeout_ms: row.timeout_ms,
      secrets: secretsByConnection.get(row.connection_key) ?? null,
    };
  });
}

/**
 * The webhook lists of the worker's steps, kept per configuration serial. Every configuration
 * write (apply, the API) bumps the serial in its transaction, and the statement that starts a
 * step (the claim, or the commit that ends the step before) returns the serial of that moment
 * (`config_serial`, requests.ts): a step whose serial is the cached one gets the cached list,
 * which is the list as it was when the step started, without a query or a decryption. A step
 * of another serial reads the list again; the read is at least as new as the step.
 */
export class WebhookListCache {
  private readonly lists = new Map<string, { serial: number; list: Promise<RunnableWebhook[]> }>();

  constructor(
    private readonly knex: Knex,
    private readonly keys: Keys,
  ) {}

  /** The list as of `serial`; without one (a row not written by the worker), read now. */
  read(policyKey: string, phase: Phase, serial: number | undefined): Promise<RunnableWebhook[]> {
    if (serial === undefined) return loadWebhookList(this.knex, this.keys, policyKey, phase);
    const key = `${phase}:${policyKey}`;
    const cached = this.lists.get(key);
    // Equal, not at least: a state restored from a backup may go back to a serial it had.
    if (cached?.serial === serial) return cached.list;
    const list = loadWebhookList(this.knex, this.keys, policyKey, phase);
    this.lists.set(key, { serial, list });
    // A failed read is not kept: the next step reads again.
    list.catch(() => this.lists.get(key)?.list === list && this.lists.delete(key));
    return list;
  }
}

/** Which of these policy keys exist (one query for a whole batch of requests). */
export async function existingPolicyKeys(knex: Knex, policyKeys: string[]): Promise<Set<string>> {
  const keys = [...new Set(policyKeys)].filter((k) => typeof k === 'string');
  const rows: { key: string }[] = await knex('policies').whereIn('key', keys).select('key');
  return new Set(rows.map((r) => r.key));
}
