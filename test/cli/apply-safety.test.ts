/**
 * A killed apply leaves exactly the old or exactly the new state and no lock behind; two applies
 * at once are serialized. Both backends, through the built CLI.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshBackends, TEST_MASTER_KEY, type Backend } from '../helpers/backends.js';
import { CLI, runCli } from '../helpers/cli.js';
import { generateManifests, GENERATED_ENV } from '../../bench/generate.js';

let env: Awaited<ReturnType<typeof freshBackends>>;
beforeAll(async () => {
  env = await freshBackends('apply_safety');
});
afterAll(async () => env.drop());

describe.each(['sqlite', 'postgres'] as const)('apply safety on %s', (name) => {
  let b: Backend;
  let baseEnv: Record<string, string>;
  beforeAll(() => {
    b = env.backends.find((x) => x.name === name)!;
    baseEnv = { HOOKCTL_DATABASE_URL: b.url, HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, ...GENERATED_ENV };
  });
  const cli = (args: string[]) => runCli(args, { cwd: b.dir, env: baseEnv });
  const history = async () => JSON.parse((await cli(['history', '--json'])).stdout) as { serial: number; summary: { add: number } }[];

  it('SIGKILL in the middle of a large apply: old state or new state, never a mix, and no lock left', async () => {
    generateManifests(path.join(b.dir, 'big'), { policies: 400 }); // 8,000 webhooks
    const child = spawn(process.execPath, [CLI, 'apply', '--auto-approve', 'big'], { cwd: b.dir, env: { ...process.env, ...baseEnv, NO_COLOR: '1' } });
    let out = '';
    let exited = false;
    child.on('exit', () => (exited = true));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // With --auto-approve the plan is printed right before the lock is taken and the writes start.
        if (out.includes('Plan: ')) setTimeout(() => (child.kill('SIGKILL'), resolve()), 30);
      });
    });
    await new Promise((r) => child.once('close', r));
    expect(exited).toBe(true);
    expect(out).not.toContain('Apply complete'); // it really died before finishing

    const plan = await runCli(['plan', '--json', 'big'], { cwd: b.dir, env: baseEnv });
    const summary = JSON.parse(plan.stdout).summary;
    // Exactly the old (empty) state: everything still to add.
    expect(summary).toEqual({ add: 100 + 400 + 8000, change: 0, delete: 0, move: 0 });
    expect(await history()).toEqual([]);

    // No lock left behind: the next apply gets it at once.
    const again = await runCli(['apply', '--auto-approve', '--lock-timeout', '3s', 'big'], { cwd: b.dir, env: baseEnv });
    expect(again.code).toBe(0);
    expect((await runCli(['plan', '--detailed-exitcode', 'big'], { cwd: b.dir, env: baseEnv })).code).toBe(0);
  });

  it('two applies started at once are serialized: both land, one after the other', async () => {
    const manifest = (policy: string) =>
      `connection:\n  - key: conn_0\n    name: Connection 0\n    connection_type: https\n    secrets:\n      url: https://hooks-0.example.com/privacy\n      authorization: { env: BENCH_HOOK_TOKEN }\npolicy:\n  - key: ${policy}\n    name: ${policy}\n    pre_execution_webhooks:\n      - { name: ${policy} hook, connection_config_key: conn_0, direction: one_way }\n`;
    fs.mkdirSync(path.join(b.dir, 'a'));
    fs.mkdirSync(path.join(b.dir, 'b'));
    fs.writeFileSync(path.join(b.dir, 'a', 'm.yaml'), manifest('team_a'));
    fs.writeFileSync(path.join(b.dir, 'b', 'm.yaml'), manifest('team_b'));
    const before = (await history())[0]!.serial;
    const [ra, rb] = await Promise.all([cli(['apply', '--auto-approve', 'a']), cli(['apply', '--auto-approve', 'b'])]);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    const h = await history();
    expect(h.map((r) => r.serial).slice(0, 2)).toEqual([before + 2, before + 1]);
    // Each revision is one whole apply: its policy and its webhook (conn_0 exists already).
    const adds = h.slice(0, 2).map((r) => r.summary.add).sort();
    expect(adds).toEqual([2, 2]);
  });
});
