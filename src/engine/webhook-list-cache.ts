import type { Phase } from '../model/types.js';
import { readWebhookList, type RunnableWebhook } from '../state/config-reads.js';
import type { Database } from '../state/database.js';
import type { Keys } from '../state/keys.js';

/**
 * The webhook lists of the worker's steps, kept per configuration serial. Every configuration
 * write (apply, the API) bumps the serial in its transaction, and the statement that starts a
 * step (the claim, or the commit that ends the step before) returns the serial of that moment
 * (`config_serial` of the row): a step whose serial is the cached one gets the cached list,
 * which is the list as it was when the step started, without a query or a decryption. A step
 * of another serial reads the list again; the read is at least as new as the step.
 */
export class WebhookListCache {
  private readonly lists = new Map<string, { serial: number; list: Promise<RunnableWebhook[]> }>();

  constructor(
    private readonly db: Database,
    private readonly keys: Keys,
  ) {}

  /** The list as of `serial`; without one (a row not written by the worker), read now. */
  read(policyKey: string, phase: Phase, serial: number | undefined): Promise<RunnableWebhook[]> {
    if (serial === undefined) return readWebhookList(this.db, this.keys, policyKey, phase);
    const key = `${phase}:${policyKey}`;
    const cached = this.lists.get(key);
    // Equal, not at least: a state restored from a backup may go back to a serial it had.
    if (cached?.serial === serial) return cached.list;
    const list = readWebhookList(this.db, this.keys, policyKey, phase);
    this.lists.set(key, { serial, list });
    // A failed read is not kept: the next step reads again.
    list.catch(() => this.lists.get(key)?.list === list && this.lists.delete(key));
    return list;
  }
}
