/**
 * The state write lock: applies (and any other writer of the configuration) are serialized,
 * and a killed holder leaves no lock behind, because the lock lives and dies with the
 * transaction: a PostgreSQL transaction-level advisory lock, or SQLite's own write lock.
 */
import type { Knex } from 'knex';
import { ExitCode, HookctlError } from '../errors.js';
import type { Database } from './database.js';
import { formatDuration } from '../durations.js';

/** Any fixed number: the advisory lock of this database's hookctl state ("hook" in ASCII). */
const STATE_LOCK_KEY = 0x686f6f6b;

/**
 * Runs `fn` in one transaction that holds the state write lock, waiting at most `timeoutMs`
 * for it (then exit code 5). An error in `fn` rolls everything back and is rethrown.
 *
 * Inside `fn` use only `trx`, never `db.knex`: on SQLite the pool has one connection, which
 * this transaction holds, so a query on `db.knex` would wait for it forever.
 */
export async function withStateLock<T>(db: Database, timeoutMs: number, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (db.dialect === 'postgres') return withAdvisoryLock(db, timeoutMs, fn);
  return inProcessTurn(db, timeoutMs, (remainingMs) => withSqliteWriteLock(db, timeoutMs, remainingMs, fn));
}

function lockedError(timeoutMs: number): HookctlError {
  return new HookctlError(
    `the state is locked by another apply (waited ${formatDuration(timeoutMs)})`,
    ExitCode.locked,
    'try again later, or raise --lock-timeout',
  );
}

async function withAdvisoryLock<T>(db: Database, timeoutMs: number, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.knex.transaction(async (trx) => {
    // lock_timeout bounds the wait for advisory locks too; 0 would mean "wait forever".
    await trx.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.ceil(timeoutMs))}`);
    try {
      await trx.raw('SELECT pg_advisory_xact_lock(?)', [STATE_LOCK_KEY]);
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') throw lockedError(timeoutMs);
      throw err;
    }
    // fn's own statements get the server's lock_timeout, not the wait for this lock.
    await trx.raw('SET LOCAL lock_timeout TO DEFAULT');
    return fn(trx);
  });
}

async function withSqliteWriteLock<T>(
  db: Database,
  timeoutMs: number,
  remainingMs: number,
  fn: (trx: Knex.Transaction) => Promise<T>,
): Promise<T> {
  return db.knex.transaction(async (trx) => {
    const [current] = (await trx.raw('PRAGMA busy_timeout')) as { timeout: number }[];
    await trx.raw(`PRAGMA busy_timeout = ${Math.ceil(remainingMs)}`);
    try {
      // knex BEGINs a deferred transaction: its first statement being a write takes the write
      // lock now (waiting up to busy_timeout), so no other writer can slip in before fn writes.
      await trx('hookctl_meta').where({ name: 'serial' }).update({ value: trx.ref('value') });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') throw lockedError(timeoutMs);
      throw err;
    } finally {
      await trx.raw(`PRAGMA busy_timeout = ${current?.timeout ?? 0}`);
    }
    return fn(trx);
  });
}

/**
 * SQLite's pool has one connection, so a second caller in this process would wait for it in
 * the pool, past any timeout. Callers of one Database take turns here instead, with the deadline.
 */
const sqliteTurns = new WeakMap<Database, Promise<void>>();

async function inProcessTurn<T>(db: Database, timeoutMs: number, run: (remainingMs: number) => Promise<T>): Promise<T> {
  const previous = sqliteTurns.get(db) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  sqliteTurns.set(db, previous.then(() => mine));
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([previous, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(lockedError(timeoutMs)), timeoutMs)))]);
    clearTimeout(timer);
    return await run(Math.max(0, timeoutMs - (Date.now() - started)));
  } finally {
    clearTimeout(timer);
    release();
  }
}
