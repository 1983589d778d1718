/**
 * Every difference between the two state backends, SQLite and PostgreSQL, behind one interface
 * keyed by the database's dialect. The rest of src/state writes SQL both accept and asks here
 * for what they do differently: connection settings, claims that skip rows other workers hold,
 * raw result shapes, JSON row sources and aggregates, commits that need not wait for the disk,
 * and locks.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Knex } from 'knex';
import { ExitCode, HookctlError } from '../errors.js';
import type { Database, Dialect } from './database-types.js';
import type { RequestRow } from './request-types.js';

export interface SqlDialect {
  readonly name: Dialect;
  /** knex's settings of a connection pool to `target` (a file, or a connection string). */
  knexConfig(target: string): Knex.Config;
  /** The rows of a `knex.raw` result. */
  rows<T>(result: unknown): T[];
  /** Settings of a read-only transaction that sees one snapshot of the database throughout. */
  readonly snapshotTransaction: Knex.TransactionConfig;
  /** A row source of the JSON array `json` (a `?` or a text column): each element as `value`. */
  jsonArrayElements(json: string): string;
  /** The aggregate of `object` (a JSON object) over the rows, as one JSON array in `orderBy` order. */
  jsonArrayOf(object: string, orderBy: string): string;
  /** A JSON object of the arguments: name, value, name, value… */
  readonly jsonObject: string;
  /**
   * Narrow `claim` (an UPDATE) to the ids `candidates` selects; on PostgreSQL the candidates
   * are locked as they are read, and rows another claimer has locked are skipped, not waited for.
   */
  claimWhereIdIn(knex: Knex, claim: Knex.QueryBuilder, candidates: Knex.QueryBuilder): void;
  /**
   * `fn` in one transaction whose commit does not wait for the disk: durable against a crash of
   * this process, while an OS crash or power loss may lose the last such commits.
   */
  withAsyncCommit<T>(knex: Knex, fn: (trx: Knex) => Promise<T>): Promise<T>;
  /**
   * `update` (an UPDATE of privacy_requests, without RETURNING), then `andThen` with the rows it
   * updated, in one transaction committed as by withAsyncCommit. Returns the updated rows with
   * the configuration serial of that moment (`config_serial`).
   */
  asyncCommitUpdate(knex: Knex, update: { sql: string; bindings: unknown[] }, andThen: (trx: Knex, rows: RequestRow[]) => Promise<void>): Promise<RequestRow[]>;
  /**
   * A column for the RETURNING of a lone statement that makes its own transaction commit
   * asynchronously, at no extra round trip; null where no statement can (SQLite).
   */
  readonly asyncCommitColumn: string | null;
  /** `fn` in one transaction holding the lock of opening (migrating) the state. */
  withMigrationLock(knex: Knex, fn: (q: Knex) => Promise<void>): Promise<void>;
  /**
   * `fn` in one transaction holding the state write lock, waiting at most `timeoutMs` (then a
   * HookctlError with ExitCode.locked). `backendPid` identifies the holder where the backend can.
   * `onContended` is called once when another holder has the lock, before waiting for it: a
   * lock that is merely slow to take (a loaded disk) is not someone else's.
   */
  withWriteLock<T>(
    db: Database,
    timeoutMs: number,
    fn: (trx: Knex.Transaction, backendPid?: number) => Promise<T>,
    opts?: { scope?: string; onContended?: () => void },
  ): Promise<T>;
  /**
   * Where the write lock's holder is recorded, outside its transaction (whose writes others
   * cannot see until it commits).
   */
  readonly lockHolder: {
    write(db: Database, record: string, scope?: string): Promise<void>;
    clear(db: Database, record: string, scope?: string): Promise<void>;
    read(db: Database, scope?: string): Promise<string | null>;
    /** Whether the recorded holder still holds the lock (a killed one does not). */
    holds(db: Database, holder: { host: string; pid: number; backend_pid?: number }, scope?: string): Promise<boolean>;
  };
}

/** How long a SQLite statement waits for another connection's lock before SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** How long an opening process waits for another one's migration (SQLite busy timeout). */
const MIGRATION_WAIT_MS = 60_000;
/** PostgreSQL advisory lock of opening (migrating) the state; distinct from the write lock. */
const MIGRATION_LOCK_KEY = 0x686f6f6d;
/** Any fixed number: the advisory lock of this database's hookctl state ("hook" in ASCII). */
export const STATE_LOCK_KEY = 0x686f6f6b;

/**
 * The write lock's scope: absent, this database's own state; otherwise another thing applied to
 * from here (a Fides server's URL), locked apart on PostgreSQL (SQLite has one writer anyway).
 */
function lockKeyOf(scope: string | undefined): number {
  if (scope === undefined) return STATE_LOCK_KEY;
  // 31 bits of a hash, above the 32-bit range of STATE_LOCK_KEY so the two never meet.
  return 2 ** 32 + (crypto.createHash('sha256').update(scope).digest().readUInt32BE(0) >>> 1);
}
/** knex prints its warnings to stdout, where they would corrupt --json output. */
const QUIET_LOG = { warn() {}, deprecate() {}, debug() {}, error() {} };
/** The configuration serial, as a column of a statement's result. */
export const CONFIG_SERIAL = `(SELECT CAST(value AS INTEGER) FROM hookctl_meta WHERE name = 'serial') AS config_serial`;
/**
 * PostgreSQL: a result column whose evaluation makes the current transaction (a lone
 * statement's own) commit without waiting for its WAL record to be flushed, as SET LOCAL would.
 */
const PG_ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true) AS async_commit`;

/** Rows without the column of PG_ASYNC_COMMIT. */
export function withoutAsyncCommit<T extends object>(rows: (T & { async_commit?: unknown })[]): T[] {
  return rows.map(({ async_commit: _setting, ...row }) => row as T);
}

/** The PostgreSQL row of the write lock's holder in hookctl_meta. */
const HOLDER_ROW = 'lock_holder';
const holderRow = (scope?: string) => (scope === undefined ? HOLDER_ROW : `${HOLDER_ROW}:${scope}`);

function lockWaitTimedOut(): HookctlError {
  return new HookctlError('the state write lock was not had in time', ExitCode.locked);
}

type SqliteConnection = { run(sql: string, cb: (err: Error | null) => void): void };

const sqlite: SqlDialect = {
  name: 'sqlite',
  knexConfig: (target) => ({
    client: 'sqlite3',
    connection: { filename: target },
    useNullAsDefault: true,
    log: QUIET_LOG,
    pool: {
      // One connection: SQLite has one writer, and every statement of this process takes turns on it.
      min: 1,
      max: 1,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
        // busy_timeout first: a second writer (or a second process switching a new file to WAL at
        // the same moment) waits for the lock instead of failing at once. WAL: readers (serve's
        // API) never block the writer. synchronous = FULL: every commit waits for the disk, unless
        // withAsyncCommit lowers it for the one transaction.
        const pragmas = [`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`, 'journal_mode = WAL', 'synchronous = FULL', 'foreign_keys = ON'];
        const next = (i: number): void => {
          if (i === pragmas.length) return done(null, conn);
          conn.run(`PRAGMA ${pragmas[i]}`, (err) => (err ? done(err, conn) : next(i + 1)));
        };
        next(0);
      },
    },
  }),
  // sqlite3 answers a raw statement with its rows.
  rows: <T>(result: unknown) => result as T[],
  // A SQLite transaction reads one snapshot of the WAL from its first read on.
  snapshotTransaction: {},
  jsonArrayElements: (json) => `json_each(${json})`,
  jsonArrayOf: (object, orderBy) => `json_group_array(${object} ORDER BY ${orderBy})`,
  jsonObject: 'json_object',
  claimWhereIdIn: (_knex, claim, candidates) => void claim.whereIn('id', candidates),
  async withAsyncCommit(knex, fn) {
    // In WAL mode, synchronous = NORMAL commits without syncing the log (a checkpoint or a later
    // FULL commit syncs it). The level cannot change inside a transaction, and the pool's one
    // connection is shared: it is held here from lowering the level to restoring it, so no other
    // statement of this process commits at the lower level.
    const conn = (await knex.client.acquireConnection()) as SqliteConnection;
    const pragma = (level: string) => knex.raw(`PRAGMA synchronous = ${level}`).connection(conn);
    try {
      await pragma('NORMAL');
      return await knex.transaction(fn, { connection: conn } as Knex.TransactionConfig);
    } finally {
      await pragma('FULL');
      await knex.client.releaseConnection(conn);
    }
  },
  asyncCommitColumn: null,
  asyncCommitUpdate(knex, update, andThen) {
    return sqlite.withAsyncCommit(knex, async (trx) => {
      const rows = (await trx.raw(`${update.sql} RETURNING *, ${CONFIG_SERIAL}`, update.bindings as Knex.RawBinding[])) as RequestRow[];
      await andThen(trx, rows);
      return rows;
    });
  },
  async withMigrationLock(knex, fn) {
    // knex BEGINs SQLite transactions DEFERRED, which takes no lock until the first write; the
    // pool holds one connection, so raw statements on knex all run in this transaction.
    await knex.raw(`PRAGMA busy_timeout = ${MIGRATION_WAIT_MS}`);
    try {
      await knex.raw('BEGIN IMMEDIATE');
      try {
        await fn(knex);
        await knex.raw('COMMIT');
      } catch (err) {
        await knex.raw('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      await knex.raw(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    }
  },
  async withWriteLock(db, timeoutMs, fn, opts = {}) {
    return inProcessTurn(db, timeoutMs, async (remainingMs) => {
      const deadline = Date.now() + remainingMs;
      // A first try that does not wait tells a held lock from a slow one.
      const first = await withSqliteWriteLock(db, 0, fn);
      if (first !== SQLITE_LOCK_HELD) return first;
      opts.onContended?.();
      const second = await withSqliteWriteLock(db, Math.max(0, deadline - Date.now()), fn);
      if (second === SQLITE_LOCK_HELD) throw lockWaitTimedOut();
      return second;
    });
  },
  // The one writer is the holder itself: the record is a file beside the database.
  lockHolder: {
    async write(db, record) {
      const file = holderFile(db);
      const temp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(temp, record);
      fs.renameSync(temp, file);
    },
    async clear(db) {
      fs.rmSync(holderFile(db), { force: true });
    },
    async read(db) {
      try {
        return fs.readFileSync(holderFile(db), 'utf8');
      } catch {
        return null;
      }
    },
    // A holder on another host cannot be checked, and is believed.
    holds: async (_db, holder) => holder.host !== os.hostname() || processAlive(holder.pid),
  },
};

const postgres: SqlDialect = {
  name: 'postgres',
  knexConfig: (target) => ({ client: 'pg', connection: target, pool: { min: 0, max: 10 }, log: QUIET_LOG }),
  // pg answers a raw statement with a result object.
  rows: <T>(result: unknown) => (result as { rows: T[] }).rows,
  snapshotTransaction: { isolationLevel: 'repeatable read', readOnly: true },
  jsonArrayElements: (json) => `json_array_elements(${json}::json)`,
  // NULL over no rows.
  jsonArrayOf: (object, orderBy) => `COALESCE(json_agg(${object} ORDER BY ${orderBy}), '[]'::json)`,
  jsonObject: 'json_build_object',
  claimWhereIdIn(knex, claim, candidates) {
    // The candidates are an array computed once. As `IN (subquery)` the planner may rerun the
    // subquery for each row, and as rows this statement updated are skipped by it, each rerun
    // finds new ones: the LIMIT would not hold, and one claim took the whole backlog.
    claim.where('id', knex.raw('ANY(ARRAY(?))', [candidates.forUpdate().skipLocked()]));
  },
  withAsyncCommit: (knex, fn) =>
    knex.transaction(async (trx) => {
      // The commit returns before its WAL record is flushed; the server flushes it within
      // wal_writer_delay, and a crash of the server loses at most those commits, never consistency.
      await trx.raw('SET LOCAL synchronous_commit = off');
      return fn(trx);
    }),
  asyncCommitUpdate: (knex, update, andThen) =>
    knex.transaction(async (trx) => {
      // The update runs set_config: SET LOCAL without a round trip of its own (with no row
      // updated it runs nowhere, and nothing is written).
      const sql = `${update.sql} RETURNING *, ${CONFIG_SERIAL}, ${PG_ASYNC_COMMIT}`;
      const { rows } = (await trx.raw(sql, update.bindings as Knex.RawBinding[])) as { rows: RequestRow[] };
      const updated = withoutAsyncCommit(rows);
      await andThen(trx, updated);
      return updated;
    }),
  asyncCommitColumn: PG_ASYNC_COMMIT,
  withMigrationLock: (knex, fn) =>
    knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
      await fn(trx);
    }),
  withWriteLock: (db, timeoutMs, fn, { scope, onContended } = {}) =>
    db.knex.transaction(async (trx) => {
      const lockKey = lockKeyOf(scope);
      // A first try that does not wait tells a held lock from a slow one.
      const { rows: tried } = (await trx.raw('SELECT pg_try_advisory_xact_lock(?) AS had, pg_backend_pid() AS pid', [lockKey])) as { rows: { had: boolean; pid: number }[] };
      if (tried[0]!.had) return fn(trx, tried[0]!.pid);
      onContended?.();
      // lock_timeout bounds the wait for advisory locks too; 0 would mean "wait forever".
      await trx.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.ceil(timeoutMs))}`);
      let backendPid: number;
      try {
        const { rows } = (await trx.raw('SELECT pg_advisory_xact_lock(?), pg_backend_pid() AS pid', [lockKey])) as { rows: { pid: number }[] };
        backendPid = rows[0]!.pid;
      } catch (err) {
        if ((err as { code?: string }).code === '55P03') throw lockWaitTimedOut();
        throw err;
      }
      // fn's own statements get the server's lock_timeout, not the wait for this lock.
      await trx.raw('SET LOCAL lock_timeout TO DEFAULT');
      return fn(trx, backendPid);
    }),
  // A row of hookctl_meta, written on another connection than the holding transaction's.
  lockHolder: {
    async write(db, record, scope) {
      await db.knex('hookctl_meta').insert({ name: holderRow(scope), value: record }).onConflict('name').merge();
    },
    async clear(db, record, scope) {
      await db.knex('hookctl_meta').where({ name: holderRow(scope), value: record }).delete();
    },
    async read(db, scope) {
      const row = (await db.knex('hookctl_meta').where({ name: holderRow(scope) }).first('value')) as { value: string } | undefined;
      return row?.value ?? null;
    },
    async holds(db, holder, scope) {
      const lockKey = lockKeyOf(scope);
      // A bigint advisory key is shown in pg_locks as classid (high 32 bits) and objid (low 32 bits).
      const { rows } = (await db.knex.raw(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = ? AND objid = ?
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [Math.floor(lockKey / 2 ** 32), lockKey % 2 ** 32],
      )) as { rows: { pid: number }[] };
      return rows.some((r) => r.pid === holder.backend_pid);
    },
  },
};

const DIALECTS: Record<Dialect, SqlDialect> = { sqlite, postgres };

/** The dialect of a database, or of a dialect name. */
export function dialectOf(db: Pick<Database, 'dialect'> | Dialect): SqlDialect {
  return DIALECTS[typeof db === 'string' ? db : db.dialect];
}

/** The dialect of a knex instance or transaction (for code handed a query runner, not a Database). */
export function dialectOfKnex(q: Knex): SqlDialect {
  return (q.client as { dialect: string }).dialect === 'postgresql' ? postgres : sqlite;
}

const holderFile = (db: Database) => `${db.location.target}-lock-holder.json`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What withSqliteWriteLock answers when another connection held the lock throughout its wait. */
const SQLITE_LOCK_HELD: unique symbol = Symbol('sqlite write lock held');

/**
 * `fn` in a transaction that took the write lock within `waitMs`, or SQLITE_LOCK_HELD (the
 * transaction rolled back: a WAL snapshot read before another writer committed cannot be
 * upgraded to write, so a later try starts afresh).
 */
async function withSqliteWriteLock<T>(db: Database, waitMs: number, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T | typeof SQLITE_LOCK_HELD> {
  let held = false;
  try {
    return await db.knex.transaction(async (trx) => {
      const [current] = (await trx.raw('PRAGMA busy_timeout')) as { timeout: number }[];
      await trx.raw(`PRAGMA busy_timeout = ${Math.ceil(waitMs)}`);
      try {
        // knex BEGINs a deferred transaction: its first statement being a write takes the write
        // lock now (waiting up to busy_timeout), so no other writer can slip in before fn writes.
        await trx('hookctl_meta').where({ name: 'serial' }).update({ value: trx.ref('value') });
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        held = true;
        throw err;
      } finally {
        await trx.raw(`PRAGMA busy_timeout = ${current?.timeout ?? 0}`);
      }
      return fn(trx);
    });
  } catch (err) {
    if (held) return SQLITE_LOCK_HELD;
    throw err;
  }
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
    await Promise.race([previous, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(lockWaitTimedOut()), timeoutMs)))]);
    clearTimeout(timer);
    return await run(Math.max(0, timeoutMs - (Date.now() - started)));
  } finally {
    clearTimeout(timer);
    release();
  }
}
