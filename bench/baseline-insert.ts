/**
 * Baseline for the first apply: the least work that stores the same rows. A fresh SQLite file with
 * the schema of the same migrations, then 100 connections, N policies and 20 webhooks per policy
 * (integer ids) inserted in one transaction with multi-row INSERTs through the driver: no query
 * builder, no plan, no history. Run as its own process, like the CLI it is compared with; prints
 * the milliseconds of the inserts alone.
 */
import { openDatabase, parseDatabaseUrl } from '../src/state/database.js';

const [file, policiesArg] = process.argv.slice(2);
const policies = Number(policiesArg);
const db = await openDatabase(parseDatabaseUrl(`sqlite:${file}`, process.cwd()));
const now = new Date().toISOString();

/** `INSERT INTO table (columns) VALUES (?, …), …` per chunk of rows, within SQLite's bound-variable limit. */
async function insertRows(trx: typeof db.knex, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  const perStatement = Math.floor(30_000 / columns.length);
  const row = `(${columns.map(() => '?').join(', ')})`;
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    await trx.raw(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => row).join(', ')}`, chunk.flat() as never[]);
  }
}

const started = process.hrtime.bigint();
await db.knex.transaction(async (trx) => {
  const connectionColumns = ['key', 'name', 'connection_type', 'access', 'description', 'disabled', 'timeout_ms', 'secrets_encrypted', 'secret_fingerprints', 'origin', 'created_at', 'updated_at'];
  const connections = Array.from({ length: 100 }, (_, c) => [`conn_${c}`, `Connection ${c}`, 'https', 'read', null, false, null, 'x'.repeat(120), '{}', 'manifest', now, now]);
  await insertRows(trx, 'connections', connectionColumns, connections);
  const policyRows = Array.from({ length: policies }, (_, p) => [`policy_${p}`, `Policy ${p}`, 'manifest', now, now]);
  await insertRows(trx, 'policies', ['key', 'name', 'origin', 'created_at', 'updated_at'], policyRows);
  const hooks: unknown[][] = [];
  for (let p = 0; p < policies; p++) {
    for (const phase of ['pre', 'post']) {
      for (let w = 0; w < 10; w++) {
        hooks.push([hooks.length + 1, phase, `policy_${p}`, `${phase}_${p}_${w}`, `${phase} webhook ${p}-${w}`, `conn_${(p * 10 + w) % 100}`, w % 2 === 0 ? 'one_way' : 'two_way', w, now, now]);
      }
    }
  }
  await insertRows(trx, 'webhooks', ['id', 'phase', 'policy_key', 'key', 'name', 'connection_key', 'direction', 'position', 'created_at', 'updated_at'], hooks);
});
process.stdout.write(String(Number(process.hrtime.bigint() - started) / 1e6));
await db.close();
