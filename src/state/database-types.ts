/** What an open state database is, apart from how it is opened (database.ts) and its dialect's SQL (dialect.ts). */
import type { Knex } from 'knex';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  knex: Knex;
  dialect: Dialect;
  location: DatabaseLocation;
  /** The URL with any password removed: safe to print. */
  displayUrl: string;
  close(): Promise<void>;
}

export interface DatabaseLocation {
  dialect: Dialect;
  /** SQLite file path, or the PostgreSQL connection string. */
  target: string;
}
