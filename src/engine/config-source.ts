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
 * Webhook list reads shared by the steps that start while one is running: a read serves only
 * the steps that started before it did; the steps that start meanwhile share the next one.
 * Every step still gets its list as it is after the step started, with fewer queries (many
 * steps start at once, when a group commit completes).
 */
export class WebhookListReads {
  private readonly running = new Map<string, Promise<RunnableWebhook[]>>();
  private readonly queued = new Map<string, Promise<RunnableWebhook[]>>();

  constructor(
    private readonly knex: Knex,
    private readonly keys: Keys,
  ) {}

  read(policyKey: string, phase: Phase): Promise<RunnableWebhook[]> {
    const key = `${phase}:${policyKey}`;
    const start = () => {
      this.queued.delete(key);
      const read = loadWebhookList(this.knex, this.keys, policyKey, phase);
      this.running.set(key, read);
      const done = () => {
        if (this.running.get(key) === read) this.running.delete(key);
      };
      read.then(done, done);
      return read;
    };
    const running = this.running.get(key);
    if (!running) return start();
    let next = this.queued.get(key);
    if (!next) {
      next = running.then(start, start);
      this.queued.set(key, next);
    }
    return next;
  }
}

/** Which of these policy keys exist (one query for a whole batch of requests). */
export async function existingPolicyKeys(knex: Knex, policyKeys: string[]): Promise<Set<string>> {
  const keys = [...new Set(policyKeys)].filter((k) => typeof k === 'string');
  const rows: { key: string }[] = await knex('policies').whereIn('key', keys).select('key');
  return new Set(rows.map((r) => r.key));
}
