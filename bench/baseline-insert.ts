/**
 * Baseline for the first apply: the same rows (connections, policies, webhooks) inserted with
 * knex batchInsert into a fresh SQLite file in one transaction, schema by the same migration.
 * Run as its own process, like the CLI it is compared with.
 */
import crypto from 'node:crypto';
import { openDatabase, parseDatabaseUrl } from '../src/state/database.js';

const [file, policiesArg] = process.argv.slice(2);
const policies = Number(policiesArg);
const db = await openDatabase(parseDatabaseUrl(`sqlite:${file}`, process.cwd()));
const now = new Date().toISOString();
const started = process.hrtime.bigint();
await db.knex.transaction(async (trx) => {
  const connections = Array.from({ length: 100 }, (_, c) => ({
    key: `conn_${c}`, name: `Connection ${c}`, connection_type: 'https', access: 'read', description: null, disabled: false,
    timeout_ms: null, secrets_encrypted: 'x'.repeat(120), secret_fingerprints: '{}', origin: 'manifest', created_at: now, updated_at: now,
  }));
  await trx.batchInsert('connections', connections, 200);
  const rows = Array.from({ length: policies }, (_, p) => ({ key: `policy_${p}`, name: `Policy ${p}`, origin: 'manifest', created_at: now, updated_at: now }));
  await trx.batchInsert('policies', rows, 150);
  const hooks = [];
  for (let p = 0; p < policies; p++) {
    for (const phase of ['pre', 'post']) {
      for (let w = 0; w < 10; w++) {
        hooks.push({
          id: `pol_${crypto.randomUUID()}`, phase, policy_key: `policy_${p}`, key: `${phase}_${p}_${w}`, name: `${phase} webhook ${p}-${w}`,
          connection_key: `conn_${(p * 10 + w) % 100}`, direction: w % 2 === 0 ? 'one_way' : 'two_way', position: w, created_at: now, updated_at: now,
        });
      }
    }
  }
  await trx.batchInsert('webhooks', hooks, 90);
});
process.stdout.write(String(Number(process.hrtime.bigint() - started) / 1e6));
await db.close();
