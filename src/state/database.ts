import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { ExitCode, HookctlError } from '../errors.js';
import { migrations } from './migrations/index.js';
import { ensureDir } from '../fs-paths.js';
import { STATE_DIR_NAME } from '../model/secrets.js';
import { dialectOf } from './dialect.js';
import type { Database, DatabaseLocation } from './database-types.js';

export type { Database, DatabaseLocation, Dialect } from './database-types.js';


export const DEFAULT_STATE_DIR = STATE_DIR_NAME;

/** `sqlite:PATH`, `postgres://…`/`postgresql://…`, or the embedded default under cwd. */
export function parseDatabaseUrl(url: string | undefined, cwd: string): DatabaseLocation {
  if (!url) return { dialect: 'sqlite', target: path.join(cwd, DEFAULT_STATE_DIR, 'state.db') };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!file) throw new HookctlError(`database URL '${url}' names no file`, ExitCode.usage, 'write it as sqlite:PATH, e.g. sqlite:.hookctl/state.db');
    return { dialect: 'sqlite', target: path.resolve(cwd, file) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', target: url };
  throw new HookctlError(
    `unsupported database URL '${redactUrl(url)}'`,
    ExitCode.usage,
    'use sqlite:PATH or postgres://user@host:port/database',
  );
}

/** The URL without its password (in the authority or as a query parameter): safe to print. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/\/\/[^/]*@/, '//***@').replace(/([?&](ssl)?(password|key)=)[^&]*/gi, '$1***');
  }
  if (parsed.password) parsed.password = '***';
  for (const name of [...parsed.searchParams.keys()]) {
    if (/password|sslkey/i.test(name)) parsed.searchParams.set(name, '***');
  }
  return parsed.toString();
}

/**
 * Open (and by default migrate) the state database. knex and the drivers are imported here,
 * lazily, so that commands which never touch the state (validate) do not pay for them.
 */
export async function openDatabase(loc: DatabaseLocation, opts: { migrate?: boolean } = {}): Promise<Database> {
  const { default: knexFactory } = await import('knex');
  if (loc.dialect === 'sqlite' && loc.target !== IN_MEMORY) ensureDir(path.dirname(loc.target), 'the state folder');
  const knex = knexFactory(dialectOf(loc.dialect).knexConfig(loc.target));
  const db: Database = {
    knex,
    dialect: loc.dialect,
    location: loc,
    displayUrl: loc.dialect === 'sqlite' ? `sqlite:${loc.target}` : redactUrl(loc.target),
    close: () => knex.destroy(),
  };
  try {
    if (opts.migrate !== false) await migrate(db);
  } catch (err) {
    await knex.destroy().catch(() => undefined);
    throw new HookctlError(
      `cannot open state database ${db.displayUrl}: ${(err as Error).message}`,
      ExitCode.runtime,
      loc.dialect === 'postgres' ? 'check that PostgreSQL is running and the URL is right' : undefined,
    );
  }
  return db;
}

const IN_MEMORY = ':memory:';

/**
 * The state_id of the empty state that read-only commands see where no state exists yet. A plan
 * saved against it cannot be applied: by then the state exists, and is another one.
 */
export const NO_STATE_ID = 'st_none';

/**
 * The state if it exists (migrated to this version), or null: nothing is created. A SQLite
 * state exists once its file does; a PostgreSQL one once hookctl's tables are in its schema.
 */
export async function openExistingDatabase(loc: DatabaseLocation): Promise<Database | null> {
  if (loc.dialect === 'sqlite') return fs.existsSync(loc.target) ? openDatabase(loc) : null;
  const db = await openDatabase(loc, { migrate: false });
  let exists: boolean;
  try {
    exists = await db.knex.schema.hasTable(MIGRATIONS_TABLE);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw new HookctlError(`cannot open state database ${db.displayUrl}: ${(err as Error).message}`, ExitCode.runtime, 'check that PostgreSQL is running and the URL is right');
  }
  if (!exists) {
    await db.close();
    return null;
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw new HookctlError(`cannot open state database ${db.displayUrl}: ${(err as Error).message}`, ExitCode.runtime);
  }
  return db;
}

/** A new, empty state in memory, gone when closed: what a state that does not exist yet holds. */
export async function openEmptyState(): Promise<Database> {
  const db = await openDatabase({ dialect: 'sqlite', target: IN_MEMORY });
  await db.knex('hookctl_meta').where({ name: 'state_id' }).update({ value: NO_STATE_ID });
  return db;
}

/** The migration bookkeeping table (the shape knex's migrator used, so older states read as is). */
const MIGRATIONS_TABLE = 'hookctl_migrations';
/** A table knex's migrator used as its lock; older hookctl versions could leave it locked. */
const KNEX_LOCK_TABLE = 'hookctl_migrations_lock';

/**
 * Brings the schema up to date. Any number of processes may open the same new state at once:
 * the check and the migration run in one transaction that holds a lock, so exactly one process
 * migrates and the others, once they get the lock, find nothing left to do. The lock dies with
 * the transaction (a PostgreSQL transaction-level advisory lock; SQLite's write lock taken by
 * BEGIN IMMEDIATE), so a killed process cannot leave it behind — which knex's own migrator,
 * with a lock row and a racy create-if-missing of its tables, could.
 */
export async function migrate(db: Database): Promise<void> {
  // Most opens find nothing to do: check without a lock first, so that opening the state never
  // waits behind an apply that holds the write lock.
  if ((await pendingMigrations(db.knex)).length === 0) return;
  await dialectOf(db).withMigrationLock(db.knex, async (q) => {
    if (!(await q.schema.hasTable(MIGRATIONS_TABLE))) {
      await q.schema.createTable(MIGRATIONS_TABLE, (t) => {
        t.increments('id').primary();
        t.string('name');
        t.integer('batch');
        t.timestamp('migration_time');
      });
    }
    const pending = await pendingMigrations(q);
    if (pending.length === 0) return;
    const [last] = (await q(MIGRATIONS_TABLE).max('batch as batch')) as { batch: number | null }[];
    const batch = (last?.batch ?? 0) + 1;
    for (const m of pending) {
      await m.up(q);
      await q(MIGRATIONS_TABLE).insert({ name: m.name, batch, migration_time: new Date() });
    }
    // A lock row left by an older version's migrator is released, so that version (if it is
    // run again on this state) does not refuse to start.
    if (await q.schema.hasTable(KNEX_LOCK_TABLE)) {
      await q(KNEX_LOCK_TABLE).delete();
      await q(KNEX_LOCK_TABLE).insert({ is_locked: 0 });
    }
  });
}

async function pendingMigrations(q: Knex): Promise<typeof migrations> {
  if (!(await q.schema.hasTable(MIGRATIONS_TABLE))) return migrations;
  const done = new Set(((await q(MIGRATIONS_TABLE).select('name')) as { name: string }[]).map((r) => r.name));
  return migrations.filter((m) => !done.has(m.name));
}
