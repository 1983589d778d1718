/**
 * A scratch PostgreSQL database for a benchmark run, on the machine's server (like the tests'
 * fresh backends; bench code does not import test helpers). Dropped by `drop()`.
 */
import crypto from 'node:crypto';
import pg from 'pg';

export const BENCH_PG_ADMIN_URL = process.env.HOOKCTL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function scratchPostgres(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `hookctl_bench_${label}_${crypto.randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return {
    url: BENCH_PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
