/**
 * Stored secret fingerprints are bound to their connection and field (equal secrets of two
 * connections do not store equal fingerprints), and states written with the old, unbound kind
 * keep working: a plan sees no change, and an apply stores the new kind. Both backends, through
 * the built CLI, read in the raw database.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { openDatabase, parseDatabaseUrl, type Database } from '../../src/state/database.js';
import { fingerprint } from '../../src/state/crypto.js';
import { deriveKeys, parseMasterKey } from '../../src/state/keys.js';

const SHARED = { url: 'https://shared.example.com/hook-SECRET-PATH-31c9', token: 'Bearer shared-SECRET-token-8e0d' };

const manifest = (extraPolicy = false) =>
  [
    'connection:',
    ...['first', 'second'].flatMap((key) => [
      `  - key: ${key}`,
      `    name: ${key}`,
      '    connection_type: https',
      '    secrets:',
      '      url: { env: SHARED_URL }',
      '      authorization: { env: SHARED_TOKEN }',
    ]),
    ...(extraPolicy ? ['policy:', '  - key: later', '    name: Later'] : []),
    '',
  ].join('\n');

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('fingerprints');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('secret fingerprints on %s', (name) => {
  let b: Backend;
  let db: Database;
  const outputs: string[] = [];
  const cli = async (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => {
    const r = await runCli(args, {
      cwd: b.dir,
      env: { HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, SHARED_URL: SHARED.url, SHARED_TOKEN: SHARED.token, ...extra },
    });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const stored = async () => {
    const rows: { key: string; secret_fingerprints: string }[] = await db.knex('connections').select('key', 'secret_fingerprints').orderBy('key');
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.secret_fingerprints) as { url: string; authorization: string }]));
  };

  beforeAll(async () => {
    b = env.backends.find((x) => x.name === name)!;
    fs.mkdirSync(path.join(b.dir, 'm'));
    fs.writeFileSync(path.join(b.dir, 'm', 'hooks.yaml'), manifest());
    expect((await cli(['apply', '--auto-approve', 'm'])).code).toBe(0);
    db = await openDatabase(parseDatabaseUrl(b.url, b.dir));
  });
  afterAll(async () => {
    await db.close();
    for (const out of outputs) for (const value of [SHARED.url, SHARED.token, 'SECRET']) expect(out).not.toContain(value);
  });

  it('two connections with the same secrets store different fingerprints', async () => {
    const { first, second } = await stored();
    expect(first!.url).not.toBe(second!.url);
    expect(first!.authorization).not.toBe(second!.authorization);
    expect(first!.url).not.toBe(first!.authorization);
    for (const fp of [first!.url, first!.authorization, second!.url, second!.authorization]) expect(fp).toMatch(/^hmac-sha256\/v2:[\w-]{32}$/);
    expect((await cli(['plan', '--detailed-exitcode', 'm'])).code).toBe(0);
  });

  it('a state holding fingerprints of the old kind: no change planned; the next apply stores the new kind; saved plans stay checked', async () => {
    const current = await stored();
    // What earlier versions stored: the value's HMAC alone, equal for equal values.
    const keys = deriveKeys(parseMasterKey(TEST_MASTER_KEY, 'test key'));
    const legacy = JSON.stringify({ url: fingerprint(keys.fingerprint, SHARED.url), authorization: fingerprint(keys.fingerprint, SHARED.token) });
    await db.knex('connections').update({ secret_fingerprints: legacy });

    const plan = await cli(['plan', '--detailed-exitcode', 'm']);
    expect([plan.code, plan.stdout.trim()]).toEqual([0, 'No changes. State matches the manifests.']);
    expect((await stored()).first).toEqual(JSON.parse(legacy)); // plan writes nothing

    // A saved plan with a change (a new policy), applied: the fingerprints are rewritten.
    fs.writeFileSync(path.join(b.dir, 'm', 'hooks.yaml'), manifest(true));
    expect((await cli(['plan', '--out', 'later.json', 'm'])).code).toBe(0);
    // A rotated secret still makes the saved plan stale (exit 6), old kind or new.
    const stale = await cli(['apply', '--plan', 'later.json'], { SHARED_TOKEN: 'Bearer rotated-SECRET' });
    expect(stale.code).toBe(6);
    expect(stale.stderr).toContain("secret env SHARED_TOKEN (connection 'first', secrets.authorization) changed since the plan was made");
    const applied = await cli(['apply', '--plan', 'later.json']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('1 added, 0 changed');
    expect(await stored()).toEqual(current);
    expect((await cli(['plan', '--detailed-exitcode', 'm'])).code).toBe(0);
  });
});
