/**
 * Opening a brand-new state from many processes at once: the schema and the master key are
 * created exactly once and every process proceeds (no raw SQL error, no state left unusable).
 * Many trials per backend, each with several `hookctl apply` processes started together.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { adminQuery as admin, PG_ADMIN_URL, TEST_MASTER_KEY } from '../helpers/backends.js';
import { spawn } from 'node:child_process';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { openDatabase, parseDatabaseUrl } from '../../src/state/database.js';

const TRIALS = 12;
const PROCESSES = 3;
const SERVE_TRIALS = 6;
const QUICKSTART = path.resolve(import.meta.dirname, '../../examples/quickstart');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-concurrent-open-'));
const databases: string[] = [];
afterAll(async () => {
  for (const name of databases) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  fs.rmSync(root, { recursive: true, force: true });
});

function trialDir(label: string, trial: number): string {
  const dir = path.join(root, `${label}-${trial}`);
  fs.cpSync(QUICKSTART, path.join(dir, 'quickstart'), { recursive: true });
  return dir;
}

/** PROCESSES applies of the quickstart started together; then one plan must find nothing to do. */
async function race(dir: string, env: Record<string, string>): Promise<{ results: CliResult[]; followUp: CliResult }> {
  const results = await Promise.all(
    Array.from({ length: PROCESSES }, () => runCli(['apply', '--auto-approve', 'quickstart'], { cwd: dir, env })),
  );
  const followUp = await runCli(['plan', '--detailed-exitcode', 'quickstart'], { cwd: dir, env });
  return { results, followUp };
}

function failures(outcomes: { results: CliResult[]; followUp: CliResult }[]): string[] {
  const out: string[] = [];
  outcomes.forEach(({ results, followUp }, trial) => {
    for (const r of results) if (r.code !== 0) out.push(`trial ${trial}: apply exit ${r.code}: ${r.stderr.trim()}`);
    if (followUp.code !== 0) out.push(`trial ${trial}: plan afterwards exit ${followUp.code}: ${followUp.stderr.trim()}`);
  });
  return out;
}

describe('a new state opened by many processes at once', () => {
  it(`SQLite, no master key yet: ${TRIALS} trials × ${PROCESSES} applies all succeed, one key file`, async () => {
    const outcomes = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const dir = trialDir('sqlite', trial);
      outcomes.push(await race(dir, {}));
      // One key, complete, private; no temporary file left beside it.
      const stateDir = path.join(dir, '.hookctl');
      expect(fs.readdirSync(stateDir).filter((f) => f.startsWith('master.key'))).toEqual(['master.key']);
      expect(Buffer.from(fs.readFileSync(path.join(stateDir, 'master.key'), 'utf8').trim(), 'base64')).toHaveLength(32);
      expect(fs.statSync(path.join(stateDir, 'master.key')).mode & 0o777).toBe(0o600);
    }
    expect(failures(outcomes)).toEqual([]);
    // Exactly one apply created the configuration; the others found nothing left to do.
    for (const { results } of outcomes) {
      expect(results.filter((r) => r.stdout.includes('Apply complete'))).toHaveLength(1);
    }
  }, 180_000);

  it(`PostgreSQL, a new database: ${TRIALS} trials × ${PROCESSES} applies all succeed`, async () => {
    const outcomes = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const name = `hookctl_open_${crypto.randomBytes(4).toString('hex')}`;
      await admin(`CREATE DATABASE ${name}`);
      databases.push(name);
      const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
      outcomes.push(await race(trialDir('pg', trial), { HOOKCTL_DATABASE_URL: url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY }));
    }
    expect(failures(outcomes)).toEqual([]);
    for (const { results } of outcomes) {
      expect(results.filter((r) => r.stdout.includes('Apply complete'))).toHaveLength(1);
    }
  }, 180_000);

  /** PROCESSES `hookctl serve --port 0` started together: each must print that it listens. */
  async function serveRace(dir: string, env: Record<string, string>): Promise<string[]> {
    const starts = Array.from({ length: PROCESSES }, () =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { cwd: dir, env: { PATH: process.env.PATH, NO_COLOR: '1', ...env } });
        let out = '';
        let err = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('listening on')) child.kill('SIGTERM');
        });
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('close', () => {
          clearTimeout(timer);
          resolve(out.includes('listening on') ? '' : `serve did not start: ${err.split('\n').filter((l) => !l.startsWith('{')).join(' ')}`);
        });
      }),
    );
    return (await Promise.all(starts)).filter(Boolean);
  }

  it(`serve, SQLite and PostgreSQL: ${SERVE_TRIALS} trials × ${PROCESSES} servers started together on a new state`, async () => {
    const problems: string[] = [];
    for (let trial = 0; trial < SERVE_TRIALS; trial++) {
      problems.push(...(await serveRace(trialDir('serve-sqlite', trial), {})));
      const name = `hookctl_open_${crypto.randomBytes(4).toString('hex')}`;
      await admin(`CREATE DATABASE ${name}`);
      databases.push(name);
      const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
      problems.push(...(await serveRace(trialDir('serve-pg', trial), { HOOKCTL_DATABASE_URL: url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY })));
    }
    expect(problems).toEqual([]);
  }, 180_000);

  it('a migration lock left behind by an older version is released, not fatal', async () => {
    const dir = path.join(root, 'stale-lock');
    const url = `sqlite:${path.join(dir, 'state.db')}`;
    const first = await openDatabase(parseDatabaseUrl(url, dir));
    // What knex's migrator of older versions could leave: its lock table with two locked rows,
    // and a migration still to run.
    await first.knex.schema.createTable('hookctl_migrations_lock', (t) => {
      t.increments('index').primary();
      t.integer('is_locked');
    });
    await first.knex('hookctl_migrations_lock').insert([{ is_locked: 1 }, { is_locked: 1 }]);
    await first.knex('hookctl_migrations').where({ name: '003_state_identity' }).delete();
    await first.knex('hookctl_meta').where({ name: 'state_id' }).delete();
    await first.close();

    const result = await runCli(['apply', '--auto-approve', 'quickstart'], {
      cwd: trialDir('stale', 0),
      env: { HOOKCTL_DATABASE_URL: url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const again = await openDatabase(parseDatabaseUrl(url, dir));
    expect(await again.knex('hookctl_migrations_lock').select('is_locked')).toEqual([{ is_locked: 0 }]);
    expect(await again.knex('hookctl_meta').where({ name: 'state_id' }).first()).toBeTruthy();
    await again.close();
  });
});
