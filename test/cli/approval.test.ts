/**
 * What a person at a terminal (or a CI job) meets around apply: the prompt, Ctrl-C, a held
 * lock, prune on an empty folder, and read-only commands on a state that does not exist yet.
 * Through the built CLI, on both backends; prompts on a real pseudo-terminal.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';

const TOKEN = 'planted-token-5f1c9e';
const manifest = (policy: string) =>
  `connection:\n  - key: conn_0\n    name: Connection 0\n    connection_type: https\n    secrets:\n      url: https://hooks-0.example.com/privacy\n      authorization: { env: HOOK_TOKEN }\npolicy:\n  - key: ${policy}\n    name: ${policy}\n    pre_execution_webhooks:\n      - { name: ${policy} hook, connection_config_key: conn_0, direction: one_way }\n`;

function writeManifests(dir: string, name: string, policy: string): string {
  const folder = path.join(dir, name);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'm.yaml'), manifest(policy));
  return folder;
}

async function hookctlTables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'hookctl%'");
    return rows.map((r) => r.table_name);
  } finally {
    await client.end();
  }
}

describe.each(['sqlite', 'postgres'] as const)('read-only commands on a state that does not exist yet (%s)', (name) => {
  let env: Awaited<ReturnType<typeof freshBackends>>;
  let b: Backend;
  // The default SQLite state (.hookctl/ under the working directory) shows a stray folder too.
  const cliEnv = () => (name === 'sqlite' ? { HOOK_TOKEN: TOKEN } : { HOOK_TOKEN: TOKEN, HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY });
  beforeAll(async () => {
    env = await freshBackends(`readonly_${name}`);
    b = env.backends.find((x) => x.name === name)!;
    writeManifests(b.dir, 'm', 'pol_a');
  });
  afterAll(async () => env.drop());
  const nothingCreated = async () => {
    if (name === 'sqlite') expect(fs.readdirSync(b.dir).sort()).toEqual(['m', 'plan.json'].filter((f) => fs.existsSync(path.join(b.dir, f))));
    else expect(await hookctlTables(b.url)).toEqual([]);
    expect(fs.existsSync(path.join(b.dir, '.hookctl'))).toBe(false);
  };

  it('plan, export and history see an empty state and create neither a database nor a key', async () => {
    const plan = await runCli(['plan', 'm'], { cwd: b.dir, env: cliEnv() });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('Plan: 3 to add, 0 to change, 0 to delete, 0 to move.');
    const history = await runCli(['history', '--json'], { cwd: b.dir, env: cliEnv() });
    expect([history.code, JSON.parse(history.stdout)]).toEqual([0, []]);
    const exported = await runCli(['export'], { cwd: b.dir, env: cliEnv() });
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('connection: []');
    await nothingCreated();
  });

  it('a plan saved before the state existed is refused as stale once it does (exit 6)', async () => {
    const saved = await runCli(['plan', 'm', '--out', 'plan.json'], { cwd: b.dir, env: cliEnv() });
    expect(saved.code).toBe(0);
    await nothingCreated();
    expect(fs.readFileSync(path.join(b.dir, 'plan.json'), 'utf8')).not.toContain(TOKEN);
    const applied = await runCli(['apply', '--plan', 'plan.json'], { cwd: b.dir, env: cliEnv() });
    expect(applied.code).toBe(6);
    expect(applied.stderr).toContain('saved plan is stale');
    expect(applied.stderr).not.toContain('hint: this is a bug');
    // Nothing was applied; a fresh plan applies.
    expect(JSON.parse((await runCli(['history', '--json'], { cwd: b.dir, env: cliEnv() })).stdout)).toEqual([]);
    expect((await runCli(['apply', '--auto-approve', 'm'], { cwd: b.dir, env: cliEnv() })).code).toBe(0);
  });
});

describe('read-only commands on an existing SQLite state', () => {
  it('an existing state whose key file is missing is refused, and no new key is made', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-keyless-'));
    try {
      writeManifests(dir, 'm', 'pol_a');
      const env = { HOOK_TOKEN: TOKEN };
      expect((await runCli(['apply', '--auto-approve', 'm'], { cwd: dir, env })).code).toBe(0);
      fs.rmSync(path.join(dir, '.hookctl', 'master.key'));
      const r = await runCli(['plan', 'm'], { cwd: dir, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('exists, but no master key was found');
      expect(fs.existsSync(path.join(dir, '.hookctl', 'master.key'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(['sqlite', 'postgres'] as const)('prompt, lock and prune (%s)', (name) => {
  let env: Awaited<ReturnType<typeof freshBackends>>;
  let b: Backend;
  let baseEnv: Record<string, string>;
  beforeAll(async () => {
    env = await freshBackends(`approval_${name}`);
    b = env.backends.find((x) => x.name === name)!;
    baseEnv = { HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, HOOK_TOKEN: TOKEN };
    writeManifests(b.dir, 'a', 'pol_a');
    writeManifests(b.dir, 'b', 'pol_b');
    fs.mkdirSync(path.join(b.dir, 'empty'));
    expect((await runCli(['apply', '--auto-approve', 'a'], { cwd: b.dir, env: baseEnv })).code).toBe(0);
  });
  afterAll(async () => env.drop());
  const serials = async () => (JSON.parse((await runCli(['history', '--json'], { cwd: b.dir, env: baseEnv })).stdout) as { serial: number }[]).map((r) => r.serial);

  it('plan/apply --prune on a folder with no manifest exit 3 and leave the state alone', async () => {
    const before = await serials();
    for (const args of [['plan', '--prune', 'empty'], ['apply', '--prune', '--auto-approve', 'empty']]) {
      const r = await runCli(args, { cwd: b.dir, env: baseEnv });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('no manifests found in empty');
      expect(r.stdout).not.toContain('to delete');
    }
    expect(await serials()).toEqual(before);
    expect((await runCli(['plan', '--detailed-exitcode', 'a'], { cwd: b.dir, env: baseEnv })).code).toBe(0);
  });

  it('declining the prompt prints "Apply cancelled." and exits 1, applying nothing', async () => {
    const before = await serials();
    const t = runInPty(['apply', 'b'], { cwd: b.dir, env: baseEnv });
    await t.waitFor("Only 'yes' will be accepted:");
    t.type('no\r');
    expect(await t.exited).toBe(1);
    expect(t.output()).toContain('Apply cancelled.');
    expect(await serials()).toEqual(before);
  });

  it('Ctrl-C at the prompt exits 130 without calling it a bug', async () => {
    const t = runInPty(['apply', 'b'], { cwd: b.dir, env: baseEnv });
    await t.waitFor("Only 'yes' will be accepted:");
    t.type('\x03');
    expect(await t.exited).toBe(130);
    expect(t.output()).not.toContain('hint:');
    expect(t.output()).not.toContain('bug');
  });

  it('a held lock: "Acquiring state lock…", then exit 5 naming the holder; Ctrl-C while waiting exits 130', async () => {
    const holder = holdLockInChild(b, { actor: 'alice', operation: 'apply' });
    try {
      await holder.entered;
      const r = await runCli(['apply', '--auto-approve', '--lock-timeout', '1s', 'b'], { cwd: b.dir, env: baseEnv });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/^Acquiring state lock…$/m);
      expect(r.stderr).toContain(`held since `);
      expect(r.stderr).toContain(`by alice on ${os.hostname()} (pid ${holder.pid}, apply)`);
      expect(r.stderr).not.toContain(TOKEN);

      const t = runInPty(['apply', '--lock-timeout', '30s', 'b'], { cwd: b.dir, env: baseEnv });
      await t.waitFor("Only 'yes' will be accepted:");
      t.type('yes\r');
      await t.waitFor('Acquiring state lock…');
      t.type('\x03');
      expect(await t.exited).toBe(130);
      expect(t.output()).not.toContain('hint:');
    } finally {
      holder.release();
      await holder.exited;
    }
    // alice was killed holding the lock, her record left behind; a holder that records nothing
    // now holds the lock: alice is not named.
    const anonymous = holdLockInChild(b, undefined);
    try {
      await anonymous.entered;
      const r = await runCli(['apply', '--auto-approve', '--lock-timeout', '1s', 'b'], { cwd: b.dir, env: baseEnv });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/^error: the state is locked by another apply \(waited 1s\)$/m);
      expect(r.stderr).not.toContain('alice');
    } finally {
      anonymous.release();
      await anonymous.exited;
    }
    // No one holds it now: the next apply gets the lock.
    expect((await runCli(['apply', '--auto-approve', '--lock-timeout', '5s', 'b'], { cwd: b.dir, env: baseEnv })).code).toBe(0);
  });
});

/** test/state/fixtures/lock-child.mjs holding the lock (recording its holder) until released. */
function holdLockInChild(b: Backend, holder: { actor: string; operation: string } | undefined) {
  const fixture = new URL('../state/fixtures/lock-child.mjs', import.meta.url).pathname;
  const proc = spawn(process.execPath, [fixture, JSON.stringify({ url: b.url, dir: b.dir, mode: 'hold', timeoutMs: 10_000, holdMs: 60_000, holder })], {
    env: { ...process.env, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const entered = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      if (line.includes('"enter"')) resolve();
      if (line.includes('"error"')) reject(new Error(line));
    });
  });
  proc.stdin.write('go\n');
  return { pid: proc.pid!, entered, release: () => proc.kill('SIGKILL'), exited: new Promise((r) => proc.on('exit', r)) };
}
