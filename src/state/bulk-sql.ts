/**
 * Bulk statements bind all their rows as ONE parameter, a JSON array of row arrays, which the
 * database expands itself. However many rows, nothing is chunked, and neither backend pays for
 * tens of thousands of bound parameters (PostgreSQL parses those slowly; SQLite caps them).
 */
import type { Knex } from 'knex';
import { dialectOfKnex } from './dialect.js';
import type { Queryable } from './queryable.js';

export type Column = [name: string, type: 'text' | 'integer' | 'boolean'];

/** `SELECT <columns> FROM <the rows>`, the rows being the JSON bound to its one `?`. */
export function selectJsonRows(q: Queryable, columns: Column[]): string {
  // Both read an element with `->>` as text (SQLite: as its SQL value); PostgreSQL needs the casts.
  const fields = columns.map(([name, type], i) => `${type === 'text' ? `value ->> ${i}` : `CAST(value ->> ${i} AS ${type.toUpperCase()})`} AS ${name}`);
  return `SELECT ${fields.join(', ')} FROM ${dialectOfKnex(q).jsonArrayElements('?')}`;
}

/** Arguments of whereRaw: `column IN (values)`. */
export function inList(q: Queryable, column: string, values: string[]): [string, Knex.Value[]] {
  return [`${column} IN (${selectJsonRows(q, [['value', 'text']])})`, [JSON.stringify(values.map((v) => [v]))]];
}

/** The ON CONFLICT clause of an upsert by `key`: these columns take the inserted values. */
export function onConflictUpdate(columns: string[]): string {
  return `ON CONFLICT (key) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`;
}

export async function insertRows(trx: Knex.Transaction, table: string, columns: Column[], rows: unknown[][], onConflict = ''): Promise<void> {
  if (rows.length === 0) return;
  const names = columns.map(([name]) => name).join(', ');
  // `WHERE true`: SQLite's grammar needs it between INSERT … SELECT and ON CONFLICT.
  await trx.raw(`INSERT INTO ${table} (${names}) ${selectJsonRows(trx, columns)} WHERE true ${onConflict}`, [JSON.stringify(rows)]);
}

/**
 * The rows `query` selects as objects with these fields (name → column), in `orderBy` order. The
 * database builds them as one JSON array: for tens of thousands of rows far cheaper than the
 * driver's row-by-row objects, each made field by field.
 */
export async function selectAsJson<T>(q: Queryable, query: Knex.QueryBuilder, fields: [name: string, column: string][], orderBy: string): Promise<T[]> {
  const dialect = dialectOfKnex(q);
  const object = `${dialect.jsonObject}(${fields.map(([name, column]) => `'${name}', ${column}`).join(', ')})`;
  const row = (await query.first(q.raw(`${dialect.jsonArrayOf(object, orderBy)} AS rows`))) as { rows: string | T[] };
  // pg parses a json value itself; sqlite3 returns its text.
  return typeof row.rows === 'string' ? (JSON.parse(row.rows) as T[]) : row.rows;
}
