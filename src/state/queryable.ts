/** What state reads and writes run on, on both backends. */
import type { Knex } from 'knex';
import { dialectOfKnex } from './dialect.js';

/** The database, or a transaction on it. */
export type Queryable = Knex | Knex.Transaction;

/** Reads that must see one revision of the state (the state and its history, say), on both backends. */
export async function inSnapshot<T>(knex: Knex, read: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return knex.transaction(read, dialectOfKnex(knex).snapshotTransaction);
}
