/**
 * The state write lock: applies (and any other writer of the configuration) are serialized,
 * and a killed holder leaves no lock behind, because the lock lives and dies with the
 * transaction: a PostgreSQL transaction-level advisory lock, or SQLite's own write lock.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import { ExitCode, HookctlError } from '../errors.js';
import type { Database } from './database.js';
import { formatDuration } from '../durations.js';
import { dialectOf } from './dialect.js';

export interface LockOptions {
  /** Recorded while the lock is held, so that a process waiting in vain can say who holds it. */
  holder?: { actor: string; operation: string };
  /** Called once when the lock is not had at once: the caller may say it is waiting. */
  onWait?: () => void;
  /**
   * What is locked: absent, this database's own state; otherwise another thing applied to from
   * here (a Fides server's URL), locked apart on PostgreSQL (SQLite has one writer anyway).
   */
  scope?: string;
}

/** Who holds the lock, as recorded by the holder. */
export interface LockHolder {
  actor: string;
  operation: string;
  host: string;
  pid: number;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** Tells this holding apart from an earlier one by the same process. */
  token: string;
  /** PostgreSQL: the server process of the holding transaction (found in pg_locks). */
  backend_pid?: number;
}

/** A wait shorter than this goes unannounced: an uncontended lock is taken well within it. */
const WAIT_NOTICE_MS = 100;

/**
 * Runs `fn` in one transaction that holds the state write lock, waiting at most `timeoutMs`
 * for it (then exit code 5, naming the recorded holder). An error in `fn` rolls everything
 * back and is rethrown.
 *
 * Inside `fn` use only `trx`, never `db.knex`: on SQLite the pool has one connection, which
 * this transaction holds, so a query on `db.knex` would wait for it forever.
 */
export async function withStateLock<T>(db: Database, timeoutMs: number, fn: (trx: Knex.Transaction) => Promise<T>, opts: LockOptions = {}): Promise<T> {
  let notice: NodeJS.Timeout | undefined;
  const onContended = opts.onWait && (() => (notice = setTimeout(opts.onWait!, WAIT_NOTICE_MS)));
  const holding = async (trx: Knex.Transaction, backendPid?: number): Promise<T> => {
    clearTimeout(notice);
    if (!opts.holder) return fn(trx);
    const record = await recordHolder(db, opts.holder, backendPid, opts.scope);
    try {
      return await fn(trx);
    } finally {
      // Cleared while the lock is still held, so the next holder's record is never the one removed.
      await clearHolder(db, record, opts.scope);
    }
  };
  try {
    return await dialectOf(db).withWriteLock(db, timeoutMs, holding, { scope: opts.scope, onContended });
  } catch (err) {
    if (err instanceof HookctlError && err.exitCode === ExitCode.locked) throw lockedError(timeoutMs, await currentHolder(db, opts.scope).catch(() => null));
    throw err;
  } finally {
    clearTimeout(notice);
  }
}

function lockedError(timeoutMs: number, holder: LockHolder | null = null): HookctlError {
  const who = holder
    ? `: held since ${holder.since} by ${holder.actor} on ${holder.host} (pid ${holder.pid}, ${holder.operation})`
    : '';
  return new HookctlError(
    `the state is locked by another apply (waited ${formatDuration(timeoutMs)})${who}`,
    ExitCode.locked,
    'try again later, or raise --lock-timeout',
  );
}

async function recordHolder(db: Database, who: { actor: string; operation: string }, backendPid?: number, scope?: string): Promise<LockHolder> {
  const record: LockHolder = {
    ...who,
    host: os.hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    token: crypto.randomBytes(8).toString('hex'),
    ...(backendPid !== undefined && { backend_pid: backendPid }),
  };
  await dialectOf(db).lockHolder.write(db, JSON.stringify(record), scope);
  return record;
}

async function clearHolder(db: Database, record: LockHolder, scope?: string): Promise<void> {
  await dialectOf(db).lockHolder.clear(db, JSON.stringify(record), scope);
}

/**
 * The recorded holder, if it is the one holding the lock now: a record left by a killed holder
 * is ignored (PostgreSQL: its server process no longer holds the advisory lock; SQLite: its
 * process on this host is gone).
 */
async function currentHolder(db: Database, scope?: string): Promise<LockHolder | null> {
  const { lockHolder } = dialectOf(db);
  const text = await lockHolder.read(db, scope);
  if (text === null) return null;
  let record: LockHolder;
  try {
    record = JSON.parse(text) as LockHolder;
  } catch {
    return null;
  }
  return (await lockHolder.holds(db, record, scope)) ? record : null;
}
