import path from 'node:path';
import fs from 'node:fs';
import type { Knex } from 'knex';
import { HookctlError } from '../errors.js';
import { migrations } from './migrations/index.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  knex: Knex;
  dialect: Dialect;
  /** The URL with any password removed: safe to print. */
  displayUrl: string;
  close(): Promise<void>;
}

export interface DatabaseLocation {
  dialect: Dialect;
  /** SQLite file path, or the PostgreSQL connection string. */
  target: string;
}

export const DEFAULT_STATE_DIR = '.hookctl';

/** `sqlite:PATH`, `postgres://…`/`postgresql://…`, or the embedded default under cwd. */
export function parseDatabaseUrl(url: string | undefined, cwd: string): DatabaseLocation {
  if (!url) return { dialect: 'sqlite', target: path.join(cwd, DEFAULT_STATE_DIR, 'state.db') };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!file) throw new HookctlError(`database URL '${url}' names no file`, 64, 'write it as sqlite:PATH, e.g. sqlite:.hookctl/state.db');
    return { dialect: 'sqlite', target: path.resolve(cwd, file) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', target: url };
  throw new HookctlError(
    `unsupported database URL '${redactUrl(url)}'`,
    64,
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
/** knex prints its warnings to stdout, where they would corrupt --json output. */
const QUIET_LOG = { warn() {}, deprecate() {}, debug() {}, error() {} };

export async function openDatabase(loc: DatabaseLocation, opts: { migrate?: boolean } = {}): Promise<Database> {
  const { default: knexFactory } = await import('knex');
  let knex: Knex;
  if (loc.dialect === 'sqlite') {
    fs.mkdirSync(path.dirname(loc.target), { recursive: true });
    knex = knexFactory({
      client: 'sqlite3',
      connection: { filename: loc.target },
      useNullAsDefault: true,
      log: QUIET_LOG,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { run(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
          // WAL: readers (serve's API) never block the writer; busy_timeout: a second writer
          // waits for the lock (then the apply lock timeout decides) instead of failing at once.
          conn.run('PRAGMA journal_mode = WAL', (e1) => {
            if (e1) return done(e1, conn);
            conn.run('PRAGMA busy_timeout = 5000', (e2) => {
              if (e2) return done(e2, conn);
              conn.run('PRAGMA foreign_keys = ON', (e3) => done(e3, conn));
            });
          });
        },
      },
    });
  } else {
    knex = knexFactory({ client: 'pg', connection: loc.target, pool: { min: 0, max: 10 }, log: QUIET_LOG });
  }
  const db: Database = {
    knex,
    dialect: loc.dialect,
    displayUrl: loc.dialect === 'sqlite' ? `sqlite:${loc.target}` : redactUrl(loc.target),
    close: () => knex.destroy(),
  };
  try {
    if (opts.migrate !== false) await migrate(db);
  } catch (err) {
    await knex.destroy().catch(() => undefined);
    throw new HookctlError(
      `cannot open state database ${db.displayUrl}: ${(err as Error).message}`,
      1,
      loc.dialect === 'postgres' ? 'check that PostgreSQL is running and the URL is right' : undefined,
    );
  }
  return db;
}

export async function migrate(db: Database): Promise<void> {
  const config = {
    tableName: 'hookctl_migrations',
    migrationSource: {
      getMigrations: async () => migrations.map((m) => m.name),
      getMigrationName: (name: string) => name,
      getMigration: async (name: string) => migrations.find((m) => m.name === name)!,
    },
  };
  // latest() takes knex's migration lock (a write) even with nothing pending; on SQLite that
  // would queue behind, and fail behind, an apply holding the state lock. list() only reads.
  const [, pending] = (await db.knex.migrate.list(config)) as [unknown[], unknown[]];
  if (pending.length > 0) await db.knex.migrate.latest(config);
}
