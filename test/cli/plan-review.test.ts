/**
 * Plans a reviewer can trust, through the built CLI on both backends: literal URLs shown and refs
 * hidden, changes made through the API (a real server on the same state) labelled as drift,
 * markdown for pull requests (capped for GitHub), and saved plans shown offline.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { expectStatus, startServer } from '../server/api.js';

const SECRETS = {
  IDENTITY_URL: 'https://identity.example.com/hooks/SECRET-PATH-a1b2',
  IDENTITY_TOKEN: 'Bearer identity-token-SECRET-c3d4',
  API_URL: 'https://api-set.example.com/SECRET-API-PATH-e5f6',
  API_TOKEN: 'Bearer api-token-SECRET-7788',
};
const LITERAL_OLD = 'https://cache.example.com/bust';
const LITERAL_NEW = 'https://cache.example.com/bust-v2';

const manifest = (cacheUrl: string) => `
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
    secrets:
      url: ${cacheUrl}
      authorization: { env: IDENTITY_TOKEN }
policy:
  - key: access_policy
    name: Access policy
    pre_execution_webhooks:
      - { key: wake_up, name: Wake up, connection_config_key: identity_service, direction: one_way }
      - { key: lookup, name: Lookup, connection_config_key: identity_service, direction: two_way }
    post_execution_webhooks:
      - { key: bust_cache, name: Bust cache, connection_config_key: cache, direction: one_way }
`;

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('plan_review');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('plans for review on %s', (name) => {
  const outputs: string[] = [];
  let b: Backend;
  const cli = async (args: string[], cwd = b.dir): Promise<CliResult> => {
    const r = await runCli(args, {
      cwd,
      env: { HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, IDENTITY_URL: SECRETS.IDENTITY_URL, IDENTITY_TOKEN: SECRETS.IDENTITY_TOKEN },
    });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const write = (cacheUrl: string) => fs.writeFileSync(path.join(b.dir, 'hooks.yaml'), manifest(cacheUrl));

  beforeAll(async () => {
    b = env.backends.find((x) => x.name === name)!;
    write(LITERAL_OLD);
    const first = await cli(['plan']);
    expect(first.stdout).toMatch(new RegExp(`\\+ connection cache\\n(.*\\n)*?\\s+secrets\\.url\\s+"${LITERAL_OLD}"\\n`));
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
  });

  it('a changed literal URL is shown old → new; refs and authorization stay (sensitive)', async () => {
    write(LITERAL_NEW);
    const r = await cli(['plan', '--detailed-exitcode']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`~ connection cache\n      secrets.url  "${LITERAL_OLD}" → "${LITERAL_NEW}"`);
    expect(r.stdout).toContain('Plan: 0 to add, 1 to change, 0 to delete, 0 to move.');
    expect(r.stdout).not.toContain('changed outside hookctl');

    // A rotated ref: the change is shown, its value is not.
    const rotated = await runCli(['plan'], {
      cwd: b.dir,
      env: { HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, IDENTITY_URL: `${SECRETS.IDENTITY_URL}-rotated`, IDENTITY_TOKEN: SECRETS.IDENTITY_TOKEN },
    });
    outputs.push(rotated.stdout, rotated.stderr);
    expect(rotated.stdout).toMatch(/~ connection identity_service\n\s+secrets\.url\s+\(sensitive\)\n/);
    expect(rotated.stdout).not.toContain('identity.example.com');
    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
  });

  it('changes made through the API since the last apply are labelled, in text and JSON; an apply clears them', async () => {
    const s = await startServer(b);
    try {
      expectStatus(await s.request('PUT', '/api/v1/connection/cache/secret', { body: { url: SECRETS.API_URL, authorization: SECRETS.API_TOKEN } }), 200);
      const hook = (key: string, n: string, direction: string) => ({ key, name: n, direction, connection_config_key: 'identity_service' });
      expectStatus(await s.request('PUT', '/api/v1/policy/access_policy/webhook/pre_execution', { body: [hook('lookup', 'Lookup', 'two_way'), hook('wake_up', 'Wake up', 'one_way')] }), 200);
      outputs.push(...s.seenBodies);
    } finally {
      await s.close();
    }
    const r = await cli(['plan']);
    expect(r.code).toBe(0);
    // The URL the API wrote is not in git: hidden. The one the manifest restores is.
    expect(r.stdout).toContain(`~ connection cache  (changed outside hookctl)\n      secrets.url            (sensitive) → "${LITERAL_NEW}"\n      secrets.authorization  (sensitive)`);
    expect(r.stdout).toMatch(/↕ (lookup|wake_up) {2}\(\d → \d\) {2}\(changed outside hookctl\)/);
    expect(r.stdout).not.toContain('connection identity_service');
    expect(r.stdout).toContain('Plan: 0 to add, 1 to change, 0 to delete, 1 to move.');

    const json = JSON.parse((await cli(['plan', '--json'])).stdout) as { changes: { kind: string; key: string; drift?: boolean }[] };
    expect(json.changes.map((c) => [c.kind, c.drift])).toEqual([
      ['connection', true],
      ['webhook', true],
    ]);
    const viaFormat = JSON.parse((await cli(['plan', '--format', 'json'])).stdout) as { changes: unknown };
    expect(viaFormat.changes).toEqual(json.changes);

    const md = (await cli(['plan', '--format', 'markdown'])).stdout;
    expect(md).toContain('~ connection cache  (changed outside hookctl)');
    expect(md).toContain('**2 of these changes undo changes made outside hookctl**');

    expect((await cli(['apply', '--auto-approve'])).code).toBe(0);
    const after = await cli(['plan', '--detailed-exitcode']);
    expect(after.code).toBe(0);
    write(LITERAL_OLD);
    const next = await cli(['plan']);
    expect(next.stdout).toContain(`secrets.url  "${LITERAL_NEW}" → "${LITERAL_OLD}"`);
    expect(next.stdout).not.toContain('changed outside hookctl');
  });

  it('lists are grouped under their policy header', async () => {
    fs.writeFileSync(
      path.join(b.dir, 'hooks.yaml'),
      manifest(LITERAL_OLD)
        .replace('name: Access policy', 'name: Access policy v2')
        .replace('      - { key: bust_cache, name: Bust cache, connection_config_key: cache, direction: one_way }', '      []'),
    );
    const r = await cli(['plan']);
    expect(r.stdout).toContain(
      [
        '  ~ policy access_policy',
        '      name  "Access policy" → "Access policy v2"',
        '      post_execution_webhooks',
        '        ! destructive: [] deletes all 1 webhook(s) of this list',
        '        - bust_cache  (was at 0)',
      ].join('\n'),
    );
    expect((await cli(['plan', '--json', '--format', 'markdown'])).code).toBe(64);
  });

  it('show renders a saved plan in text, JSON and markdown with no database, state or key', async () => {
    const planFile = path.join(b.dir, 'review.plan.json');
    expect((await cli(['plan', '--out', planFile])).code).toBe(0);
    const saved = fs.readFileSync(planFile, 'utf8');
    outputs.push(saved);
    const offline = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-show-'));
    fs.copyFileSync(planFile, path.join(offline, 'plan.json'));
    // A database that cannot be reached: show must not try.
    const show = (format: string) =>
      runCli(['show', 'plan.json', '--format', format], { cwd: offline, env: { HOOKCTL_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } }).then((r) => {
        outputs.push(r.stdout, r.stderr);
        return r;
      });
    const text = await show('text');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('signature not verified');
    expect(text.stdout).toContain('~ policy access_policy');
    expect(text.stdout).toContain('Plan: 0 to add, 2 to change, 1 to delete, 0 to move.');
    const json = await show('json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(saved));
    expect(json.stderr).toContain('signature not verified');
    const md = await show('markdown');
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^### hookctl plan: 0 to add, 2 to change, 1 to delete, 0 to move\n/);
    expect(md.stdout).toContain('| 0 | 2 | 1 | 0 |');
    expect(md.stdout).toContain('```diff\n');
    expect(fs.readdirSync(offline)).toEqual(['plan.json']);

    fs.writeFileSync(path.join(offline, 'broken.json'), '{"format_version": 2, "signature": "x", "changes": 5}');
    const broken = await runCli(['show', 'broken.json'], { cwd: offline });
    expect([broken.code, broken.stderr]).toEqual([3, expect.stringContaining('is damaged')]);
    fs.rmSync(offline, { recursive: true, force: true });
  });

  it('no planted secret value in any format, saved plan or shown plan', () => {
    const everything = outputs.join('\n');
    expect(everything).toContain(LITERAL_NEW);
    for (const value of Object.values(SECRETS)) expect(everything).not.toContain(value);
    expect(everything).not.toContain('SECRET');
  });
});

describe.each(['sqlite', 'postgres'] as const)('a markdown plan of 1,000+ changes on %s', (name) => {
  it('fits a GitHub comment: summary, table and a capped diff block', async () => {
    const b = env.backends.find((x) => x.name === name)!;
    const dir = path.join(b.dir, 'big');
    fs.mkdirSync(dir, { recursive: true });
    const long = 'x'.repeat(150);
    const policies = Array.from({ length: 25 }, (_, p) => {
      // A name holding a fence of its own must not close the diff block early.
      const hooks = Array.from({ length: 41 }, (_, i) => `      - { key: hook_${p}_${i}, name: "Hook ${p} ${i} ${i === 0 ? '```' : ''}${long}", connection_config_key: big, direction: one_way }`);
      return `  - key: policy_${p}\n    name: Policy ${p}\n    pre_execution_webhooks:\n${hooks.join('\n')}`;
    });
    fs.writeFileSync(
      path.join(dir, 'big.yaml'),
      `connection:\n  - key: big\n    name: Big\n    connection_type: https\n    secrets:\n      url: { env: IDENTITY_URL }\n      authorization: { env: IDENTITY_TOKEN }\npolicy:\n${policies.join('\n')}\n`,
    );
    // A new state per backend: its own SQLite file / the same PostgreSQL, never applied to.
    const r = await runCli(['plan', 'big', '--format', 'markdown', '--detailed-exitcode', ...(name === 'sqlite' ? ['--database-url', `sqlite:${path.join(dir, 'state.db')}`] : [])], {
      cwd: b.dir,
      env: { ...(name === 'postgres' && { HOOKCTL_DATABASE_URL: b.url }), HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, IDENTITY_URL: SECRETS.IDENTITY_URL, IDENTITY_TOKEN: SECRETS.IDENTITY_TOKEN },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^### hookctl plan: 1051 to add, 0 to change, 0 to delete, 0 to move\n/);
    expect(r.stdout).toContain('| add | change | delete | move |');
    expect(r.stdout).toContain('| 1051 | 0 | 0 | 0 |');
    expect(r.stdout).toMatch(/\n````diff\n\+ connection big\n/);
    expect(r.stdout).toMatch(/… and \d+ more changes \(run hookctl plan for the whole plan\)\n````\n/);
    expect(r.stdout.length).toBeLessThan(65_536);
    expect(r.stdout.length).toBeGreaterThan(20_000);
    for (const value of Object.values(SECRETS)) expect(r.stdout).not.toContain(value);
  });
});
