/**
 * The reconcile loop as a user runs it: validate → plan → apply → plan again, on SQLite and on
 * the real PostgreSQL, through the built CLI. Secret values are planted and searched for in
 * everything hookctl writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const SECRETS = {
  IDENTITY_URL: 'https://identity.example.com/hooks/privacy-SECRET-PATH-7f3a',
  IDENTITY_TOKEN: 'Bearer s3cr3t-identity-token-9b1c',
  CACHE_TOKEN: 'cache-token-SECRET-55d2',
};

const manifest = (pre: string, post = '      - { name: Bust cache, connection_config_key: cache, direction: one_way }') => `
connection:
  - key: identity_service
    name: Identity service
    connection_type: https
    secrets:
      url: { env: IDENTITY_URL }
      authorization: { env: IDENTITY_TOKEN }
  - key: cache
    name: Cache
    connection_type: https
    access: write
    secrets:
      url: https://cache.example.com/bust
      authorization: { file: cache-token.txt }
policy:
  - key: default_access_policy
    name: Default access policy
    pre_execution_webhooks:
${pre}
    post_execution_webhooks:
${post}
`;
const PRE_AB = [
  '      - { name: Wake up Snowflake DB, connection_config_key: identity_service, direction: one_way }',
  '      - { key: identity_lookup, name: Identity lookup, connection_config_key: identity_service, direction: two_way }',
].join('\n');
const PRE_BA = [
  '      - { key: identity_lookup, name: Identity lookup, connection_config_key: identity_service, direction: two_way }',
  '      - { name: Wake up Snowflake DB, connection_config_key: identity_service, direction: one_way }',
].join('\n');

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('reconcile');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('reconcile loop on %s', (name) => {
  const outputs: string[] = [];
  let b: Backend;
  const cli = async (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> => {
    const r = await runCli(args, {
      cwd: b.dir,
      env: {
        HOOKCTL_DATABASE_URL: b.url,
        IDENTITY_URL: SECRETS.IDENTITY_URL,
        IDENTITY_TOKEN: SECRETS.IDENTITY_TOKEN,
        ...(name === 'postgres' && { HOOKCTL_MASTER_KEY: TEST_MASTER_KEY }),
        ...extraEnv,
      },
    });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const write = (pre: string, post?: string) => fs.writeFileSync(path.join(b.dir, 'hooks.yaml'), manifest(pre, post));

  beforeAll(() => {
    b = env.backends.find((x) => x.name === name)!;
    fs.writeFileSync(path.join(b.dir, 'cache-token.txt'), `${SECRETS.CACHE_TOKEN}\n`);
    write(PRE_AB);
  });

  it('an invalid manifest exits 3 with a positioned error, and touches no state', async () => {
    fs.writeFileSync(path.join(b.dir, 'broken.yml'), 'policy:\n  - key: p\n    nmae: typo\n');
    const r = await cli(['plan', 'broken.yml']);
    fs.rmSync(path.join(b.dir, 'broken.yml'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/broken\.yml:3:5/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    if (name === 'sqlite') expect(fs.existsSync(path.join(b.dir, 'sqlite', 'state.db'))).toBe(false);
  });

  it('plans the creation, with secrets shown only as (sensitive); --detailed-exitcode is 2', async () => {
    const r = await cli(['plan', '--detailed-exitcode']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('+ connection identity_service');
    expect(r.stdout).toContain('(sensitive)');
    expect(r.stdout).toContain('+ wake_up_snowflake_db');
    expect(r.stdout).toContain('Plan: 6 to add, 0 to change, 0 to delete, 0 to move.');
  });

  it('apply without approval on a non-terminal exits 64 and writes nothing', async () => {
    const r = await cli(['apply']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--auto-approve/);
    expect((await cli(['plan', '--detailed-exitcode'])).code).toBe(2);
  });

  it('applies, and then plan and apply report no changes', async () => {
    const r = await cli(['apply', '--auto-approve']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Apply complete! 6 added, 0 changed, 0 deleted, 0 moved. State serial 1.');
    const again = await cli(['plan', '--detailed-exitcode']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes. State matches the manifests.');
    const reapply = await cli(['apply', '--auto-approve']);
    expect(reapply.stdout).toContain('No changes.');
    expect(reapply.stdout).not.toContain('Apply complete');
  });

  it('a reordered list is one move, not two edits', async () => {
    write(PRE_BA);
    const r = await cli(['plan', '--json']);
    const plan = JSON.parse(r.stdout);
    expect(plan.summary).toEqual({ add: 0, change: 0, delete: 0, move: 1 });
    expect(plan.format_version).toBe(2);
    const human = await cli(['plan']);
    expect(human.stdout).toMatch(/↕ (identity_lookup|wake_up_snowflake_db) {2}\(\d → \d\)/);
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
  });

  it('a changed secret is a change shown as (sensitive); the value never appears', async () => {
    const r = await cli(['plan', '--detailed-exitcode'], { IDENTITY_TOKEN: 'Bearer rotated-token-SECRET-1111' });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('~ connection identity_service');
    expect(r.stdout).toMatch(/secrets\.authorization\s+\(sensitive\)/);
    expect(r.stdout).toContain('Plan: 0 to add, 1 to change, 0 to delete, 0 to move.');
    expect(r.stdout).not.toContain('rotated-token');
  });

  it('an unset secret env ref exits 1 naming the ref, and writes nothing', async () => {
    const unset = await runCli(['apply', '--auto-approve'], {
      cwd: b.dir,
      env: { HOOKCTL_DATABASE_URL: b.url, IDENTITY_URL: SECRETS.IDENTITY_URL, ...(name === 'postgres' && { HOOKCTL_MASTER_KEY: TEST_MASTER_KEY }) },
    });
    outputs.push(unset.stdout, unset.stderr);
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain("secret ref env IDENTITY_TOKEN (connection 'identity_service', secrets.authorization) is not set");
    const r = await cli(['apply', '--auto-approve'], { IDENTITY_TOKEN: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('IDENTITY_TOKEN');
    expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    const h = JSON.parse((await cli(['history', '--json'])).stdout);
    expect(h[0].serial).toBe(2);
  });

  it('a saved plan applies; a stale one exits 6 saying what moved', async () => {
    write(PRE_AB);
    const planFile = path.join(b.dir, 'reorder.plan.json');
    expect((await cli(['plan', '--out', planFile])).code).toBe(0);
    const saved = fs.readFileSync(planFile, 'utf8');
    expect(JSON.parse(saved).state_serial).toBe(2);

    const rotated = await cli(['apply', '--plan', planFile], { IDENTITY_URL: 'https://identity.example.com/other-SECRET' });
    expect(rotated.code).toBe(6);
    expect(rotated.stderr).toContain('env IDENTITY_URL');

    // An edited plan is refused before anything is read from the state.
    const edited = path.join(b.dir, 'edited.plan.json');
    fs.writeFileSync(edited, saved.replace('"two_way"', '"sideways"'));
    const tampered = await cli(['apply', '--plan', edited]);
    expect(tampered.code).toBe(3);
    expect(tampered.stderr).toContain('was changed after it was made');

    // Someone else applies first: the saved plan is now stale.
    write(PRE_AB, '      []');
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
    const stale = await cli(['apply', '--plan', planFile]);
    expect(stale.code).toBe(6);
    expect(stale.stderr).toContain('serial 2 → 3');
  });

  it('[] marks the list destructive; omitting a list leaves it untouched', async () => {
    write(PRE_AB); // post list back
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
    write(PRE_AB, '      []');
    const r = await cli(['plan']);
    expect(r.stdout).toContain('! destructive');
    expect(r.stdout).toContain('- bust_cache');
    fs.writeFileSync(path.join(b.dir, 'hooks.yaml'), manifest(PRE_AB).replace(/ {4}post_execution_webhooks:\n.*\n/, ''));
    const omitted = await cli(['plan', '--detailed-exitcode']);
    expect(omitted.code).toBe(0);
  });

  it('history lists revisions newest first with actor, digest and summary', async () => {
    const r = await cli(['history', '--json'], { GITHUB_ACTOR: 'octocat' });
    const h = JSON.parse(r.stdout);
    expect(h.map((x: { serial: number }) => x.serial)).toEqual([4, 3, 2, 1]);
    expect(h[3]).toMatchObject({ actor: 'tester', summary: { add: 6, change: 0, delete: 0, move: 0 } });
    expect(h[0].manifest_digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await cli(['history'])).stdout).toMatch(/^SERIAL\s+APPLIED AT\s+ACTOR/);
  });

  it('export writes env refs; planning the export with those variables shows no changes', async () => {
    const out = path.join(b.dir, '..', `exported-${name}`);
    expect((await cli(['export', '--out', out])).code).toBe(0);
    const text = fs.readFileSync(path.join(out, 'hookctl-export.yaml'), 'utf8');
    outputs.push(text);
    expect(text).toContain('HOOKCTL_SECRET_IDENTITY_SERVICE_AUTHORIZATION');
    const r = await cli(['plan', '--detailed-exitcode', out], {
      HOOKCTL_SECRET_IDENTITY_SERVICE_URL: SECRETS.IDENTITY_URL,
      HOOKCTL_SECRET_IDENTITY_SERVICE_AUTHORIZATION: SECRETS.IDENTITY_TOKEN,
      HOOKCTL_SECRET_CACHE_URL: 'https://cache.example.com/bust',
      HOOKCTL_SECRET_CACHE_AUTHORIZATION: SECRETS.CACHE_TOKEN,
    });
    expect(r.stdout).toContain('No changes.');
    expect(r.code).toBe(0);
  });

  it('unmanaged resources are reported, and deleted only with --prune', async () => {
    fs.writeFileSync(
      path.join(b.dir, 'extra.yaml'),
      'policy:\n  - key: erasure_policy\n    name: Erasure\n    post_execution_webhooks:\n      - { name: Erasure cleanup, connection_config_key: cache, direction: one_way }\n',
    );
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
    fs.rmSync(path.join(b.dir, 'extra.yaml'));
    const r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('policy erasure_policy');
    expect(r.stdout).toContain('--prune');
    const pruned = await cli(['apply', '--auto-approve', '--prune']);
    expect(pruned.stdout).toContain('- policy erasure_policy');
    expect(pruned.stdout).toContain('Apply complete! 0 added, 0 changed, 2 deleted, 0 moved.');
  });

  it('a different master key is refused instead of making every secret look changed', async () => {
    const other = Buffer.alloc(32, 9).toString('base64');
    const r = await cli(['plan'], { HOOKCTL_MASTER_KEY: other });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the master key does not match the key this state was created with');
  });

  it('no secret value in any output, saved plan, history, export or unencrypted column', async () => {
    const planFile = path.join(b.dir, 'scan.plan.json');
    await cli(['plan', '--out', planFile, '--json']);
    outputs.push(fs.readFileSync(planFile, 'utf8'));
    outputs.push((await cli(['history', '--json'])).stdout);
    outputs.push(await dumpDatabase(b));
    const everything = outputs.join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    for (const value of Object.values(SECRETS)) expect(everything).not.toContain(value);
    // The token file's content without its newline must not leak either.
    expect(everything).not.toContain(SECRETS.CACHE_TOKEN.trim());
  });
});

/** Every row of every table as text (for SQLite, also the raw file bytes). */
async function dumpDatabase(b: Backend): Promise<string> {
  if (b.name === 'sqlite') {
    const file = b.url.slice('sqlite:'.length);
    return [file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f).toString('latin1')).join('\n');
  }
  const client = new pg.Client({ connectionString: b.url });
  await client.connect();
  try {
    const tables = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    const parts: string[] = [];
    for (const { tablename } of tables.rows) parts.push(JSON.stringify((await client.query(`SELECT * FROM "${tablename}"`)).rows));
    return parts.join('\n');
  } finally {
    await client.end();
  }
}
