/**
 * The state write lock: applies (and any other writer of the configuration) are serialized,
 * and a killed holder leaves no lock behind, because the lock lives and dies with the
 * transaction: a PostgreSQL transaction-level advisory lock, or SQLite's own write lock.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Knex } from 'knex';
import { ExitCode, HookctlError } from '../errors.js';
import type { Database } from './database.js';
import { formatDuration } from '../durations.js';

/** Any fixed number: the advisory lock of this database's hookctl state ("hook" in ASCII). */
const STATE_LOCK_KEY = 0x686f6f6b;

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

function lockKeyOf(scope: string | undefined): number {
  if (scope === undefined) return STATE_LOCK_KEY;
  // 31 bits of a hash, above the 32-bit range of STATE_LOCK_KEY so the two never meet.
  return 2 ** 32 + (crypto.createHash('sha256').update(scope).digest().readUInt32BE(0) >>> 1);
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
  const notice = opts.onWait && setTimeout(opts.onWait, WAIT_NOTICE_MS);
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
    if (db.dialect === 'postgres') return await withAdvisoryLock(db, timeoutMs, holding, lockKeyOf(opts.scope));
    return await inProcessTurn(db, timeoutMs, (remainingMs) => withSqliteWriteLock(db, timeoutMs, remainingMs, holding));
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

/**
 * Where the holder is recorded. The holding transaction's own writes are invisible to others
 * until it commits, so the record is written outside it: on PostgreSQL a row of hookctl_meta
 * written on another connection; on SQLite, whose one writer is the holder itself, a file
 * beside the database.
 */
const HOLDER_ROW = 'lock_holder';
const holderRow = (scope?: string) => (scope === undefined ? HOLDER_ROW : `${HOLDER_ROW}:${scope}`);
const holderFile = (db: Database) => `${db.location.target}-lock-holder.json`;

async function recordHolder(db: Database, who: { actor: string; operation: string }, backendPid?: number, scope?: string): Promise<LockHolder> {
  const record: LockHolder = {
    ...who,
    host: os.hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    token: crypto.randomBytes(8).toString('hex'),
    ...(backendPid !== undefined && { backend_pid: backendPid }),
  };
  const value = JSON.stringify(record);
  if (db.dialect === 'postgres') {
    await db.knex('hookctl_meta').insert({ name: holderRow(scope), value }).onConflict('name').merge();
  } else {
    const file = holderFile(db);
    const temp = `${file}.${record.token}.tmp`;
    fs.writeFileSync(temp, value);
    fs.renameSync(temp, file);
  }
  return record;
}

async function clearHolder(db: Database, record: LockHolder, scope?: string): Promise<void> {
  if (db.dialect === 'postgres') {
    await db.knex('hookctl_meta').where({ name: holderRow(scope), value: JSON.stringify(record) }).delete();
  } else {
    fs.rmSync(holderFile(db), { force: true });
  }
}

/**
 * The recorded holder, if it is the one holding the lock now: a record left by a killed holder
 * is ignored (PostgreSQL: its server process no longer holds the advisory lock; SQLite: its
 * process on this host is gone).
 */
async function currentHolder(db: Database, scope?: string): Promise<LockHolder | null> {
  if (db.dialect === 'postgres') {
    const lockKey = lockKeyOf(scope);
    const row = (await db.knex('hookctl_meta').where({ name: holderRow(scope) }).first('value')) as { value: string } | undefined;
    if (!row) return null;
    const record = JSON.parse(row.value) as LockHolder;
    // A bigint advisory key is shown in pg_locks as classid (high 32 bits) and objid (low 32 bits).
    const { rows } = (await db.knex.raw(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = ? AND objid = ?
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [Math.floor(lockKey / 2 ** 32), lockKey % 2 ** 32],
    )) as { rows: { pid: number }[] };
    return rows.some((r) => r.pid === record.backend_pid) ? record : null;
  }
  let record: LockHolder;
  try {
    record = JSON.parse(fs.readFileSync(holderFile(db), 'utf8')) as LockHolder;
  } catch {
    return null;
  }
  return record.host !== os.hostname() || processAlive(record.pid) ? record : null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function withAdvisoryLock<T>(db: Database, timeoutMs: number, fn: (trx: Knex.Transaction, backendPid: number) => Promise<T>, lockKey: number): Promise<T> {
  return db.knex.transaction(async (trx) => {
    // lock_timeout bounds the wait for advisory locks too; 0 would mean "wait forever".
    await trx.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.ceil(timeoutMs))}`);
    let backendPid: number;
    try {
      const { rows } = (await trx.raw('SELECT pg_advisory_xact_lock(?), pg_backend_pid() AS pid', [lockKey])) as { rows: { pid: number }[] };
      backendPid = rows[0]!.pid;
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') throw lockedError(timeoutMs);
      throw err;
    }
    // fn's own statements get the server's lock_timeout, not the wait for this lock.
    await trx.raw('SET LOCAL lock_timeout TO DEFAULT');
    return fn(trx, backendPid);
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
