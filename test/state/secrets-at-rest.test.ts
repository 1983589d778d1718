import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MASTER_KEY, freshBackends } from '../helpers/backends.js';
import type { Database } from '../../src/state/database.js';
import { deriveKeys, parseMasterKey } from '../../src/state/keys.js';
import { encryptJson, fingerprint } from '../../src/state/crypto.js';
import { bumpSerial, decryptConnectionSecrets, readState, upsertConnections, upsertPolicies, saveWebhookLists } from '../../src/state/config-store.js';
import { appendRevision } from '../../src/state/history.js';
import { withStateLock } from '../../src/state/lock.js';
import type { HttpsSecrets } from '../../src/model/types.js';
import { NOW, connection, hook, openBackend } from './store-fixtures.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('secrets_at_rest');
});
afterAll(async () => env.drop());

const keys = deriveKeys(parseMasterKey(TEST_MASTER_KEY, 'test key'));
const secrets: HttpsSecrets = { url: 'https://hooks.example.test/very-secret-path-4711', authorization: 'Bearer s3cr3t-t0ken-do-not-leak' };

describe.each([['sqlite'], ['postgres']] as const)('%s secrets at rest', (name) => {
  let db: Database;
  const backend = () => env.backends.find((b) => b.name === name)!;
  beforeAll(async () => {
    db = await openBackend(backend());
  });
  afterAll(async () => db.close());

  it('keeps secret values out of every unencrypted column (and, on SQLite, out of the raw database and WAL files)', async () => {
    const fingerprints = { url: fingerprint(keys.fingerprint, secrets.url), authorization: fingerprint(keys.fingerprint, secrets.authorization) };
    await withStateLock(db, 5000, async (trx) => {
      await upsertConnections(trx, [{ config: connection('billing', { name: 'Billing hook' }), secrets: { encrypted: encryptJson(keys.secrets, secrets), fingerprints } }], NOW);
      await upsertPolicies(trx, [{ policy: { key: 'default', name: 'Default' } }], NOW);
      await saveWebhookLists(trx, [{ policy_key: 'default', phase: 'pre', current: [], next: [hook('notify', { connection_config_key: 'billing' })] }], NOW);
      const serial = await bumpSerial(trx);
      await appendRevision(trx, {
        serial,
        applied_at: NOW,
        actor: 'ci',
        manifest_digest: 'sha256:x',
        summary: { add: 3, change: 0, delete: 0, move: 0 },
        changes: [{ connection: 'billing', secrets: fingerprints }],
      });
    });

    // The values are there, encrypted: the store can give them back with the key.
    const stored = (await readState(db.knex)).connections.get('billing')!;
    expect(decryptConnectionSecrets(keys, stored)).toEqual(secrets);
    expect(stored.secret_fingerprints).toEqual(fingerprints);

    const tables: string[] =
      db.dialect === 'sqlite'
        ? (await db.knex('sqlite_master').where({ type: 'table' }).select('name')).map((r: { name: string }) => r.name)
        : (await db.knex('information_schema.tables').where({ table_schema: 'public' }).select('table_name')).map((r: { table_name: string }) => r.table_name);
    expect(tables).toEqual(expect.arrayContaining(['connections', 'policies', 'webhooks', 'revisions', 'hookctl_meta']));
    const dump = JSON.stringify(await Promise.all(tables.map((t) => db.knex(t).select())));
    expect(dump).toContain('Billing hook'); // the scan does see the rows
    expect(dump).toContain(stored.secrets_encrypted);
    for (const value of [secrets.url, secrets.authorization, 'very-secret-path-4711', 's3cr3t-t0ken']) expect(dump).not.toContain(value);

    if (db.dialect === 'sqlite') {
      const file = backend().url.slice('sqlite:'.length);
      const raw = Buffer.concat([file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
      expect(raw.includes('Billing hook')).toBe(true);
      for (const value of [secrets.url, secrets.authorization, 'very-secret-path-4711', 's3cr3t-t0ken']) expect(raw.includes(value)).toBe(false);
    }
  });
});
