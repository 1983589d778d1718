/**
 * Every test that touches the state runs on both backends: a fresh SQLite file and a fresh
 * PostgreSQL database (one per test file, on the machine's real server), dropped afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.HOOKCTL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A database URL as the CLI takes it (`--database-url`). */
  url: string;
  /** A temporary working directory (for .hookctl/, manifests, key files). */
  dir: string;
}

/** A new, empty state of each kind. Call `drop()` in afterAll. */
export async function freshBackends(label: string): Promise<{ backends: Backend[]; drop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hookctl-${label}-`));
  const dbName = `hookctl_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${crypto.randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${dbName}`);
  const pgUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
  return {
    backends: [
      { name: 'sqlite', url: `sqlite:${path.join(dir, 'sqlite', 'state.db')}`, dir: path.join(dir, 'sqlite') },
      { name: 'postgres', url: pgUrl, dir: path.join(dir, 'postgres') },
    ].map((b) => {
      fs.mkdirSync(b.dir, { recursive: true });
      return b as Backend;
    }),
    async drop() {
      await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one statement as the admin of the test PostgreSQL (CREATE/DROP DATABASE). */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fixed test master key (base64 of 32 bytes); PostgreSQL state requires one. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
