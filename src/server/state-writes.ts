/**
 * Every configuration write of the API (connections, secrets, policies, webhook lists) goes
 * through `writeState`: one transaction under the state write lock, on the state read inside
 * it; a write that changes something bumps the serial (saved plans made before it go stale)
 * and records a revision, like an apply does, with actor `api:<client_id of the token>`.
 */
import type { FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { withStateLock } from '../state/lock.js';
import { bumpSerial, readState, type StoredState } from '../state/config-store.js';
import { apiActorOf, appendRevision } from '../state/history.js';
import { summarize, type ResourceChange } from '../model/changes.js';
import type { ServerDeps } from './deps.js';

/** How long an API write waits, by default, for an apply holding the state lock (then 503). */
export const API_LOCK_TIMEOUT_MS = 10_000;

/** Who made an API write: the client the request's token was issued to. */
export function apiActor(req: FastifyRequest): string {
  // Every write route needs a scope, so the token is verified and its client known by now.
  return apiActorOf(req.apiClientId);
}

export interface WriteContext {
  trx: Knex.Transaction;
  state: StoredState;
  /** One timestamp for every row the write touches. */
  now: string;
}

/** What a write did: its response, and the changes (secrets as `sensitive`, never values). */
export interface WriteOutcome<T> {
  result: T;
  changes: ResourceChange[];
}

export async function writeState<T>(deps: ServerDeps, actor: string, write: (ctx: WriteContext) => Promise<WriteOutcome<T>>): Promise<T> {
  return withStateLock(deps.db, deps.lockTimeoutMs ?? API_LOCK_TIMEOUT_MS, async (trx) => {
    const now = new Date().toISOString();
    const state = await readState(trx);
    const { result, changes } = await write({ trx, state, now });
    if (changes.length > 0) {
      const serial = await bumpSerial(trx);
      // No manifest behind an API write: the digest stays empty.
      await appendRevision(trx, { serial, applied_at: now, actor, manifest_digest: '', summary: summarize(changes), changes });
    }
    return result;
  });
}
