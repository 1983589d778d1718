/**
 * Secret refs are confined and secret values checked, through the built CLI: a manifest (a pull
 * request) must not be able to read files outside its root, hookctl's own variables, devices,
 * FIFOs or huge files, and every problem is named (never a value) in one run. SQLite state: what
 * is tested here happens before any state is read; test/cli/fingerprints.test.ts covers both
 * backends.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MASTER_KEY } from '../helpers/backends.js';
import { runCli, type CliResult } from '../helpers/cli.js';

/** Values planted where a ref could reach them; no output may ever contain one. */
const PLANTED = {
  outsideToken: 'Bearer outside-token-PLANTED-41d7',
  masterKey: TEST_MASTER_KEY,
  databaseUrl: 'sqlite:.hookctl/state.db',
  crlfToken: 'Bearer crlf-PLANTED-93aa',
  userinfoUrl: 'https://alice:pa55-PLANTED-c0de@hooks.example.com/privacy',
  goodToken: 'Bearer good-token-PLANTED-77e1',
};

let work: string;
const outputs: string[] = [];
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-secret-refs-'));
  fs.mkdirSync(path.join(work, 'outside'));
  fs.writeFileSync(path.join(work, 'outside', 'token.txt'), `${PLANTED.outsideToken}\n`);
});
afterAll(() => {
  for (const out of outputs) {
    for (const value of [...Object.values(PLANTED), 'outside-token-PLANTED', 'pa55-PLANTED', 'root:x:0:0']) expect(out).not.toContain(value);
  }
  fs.rmSync(work, { recursive: true, force: true });
});

let count = 0;
/** A fresh manifest root `<case>/manifests` (plus `files` in it) under the work folder. */
function root(authorization: string, opts: { url?: string; files?: Record<string, string> } = {}): { cwd: string; dir: string } {
  const cwd = path.join(work, `case-${++count}`);
  const dir = path.join(cwd, 'manifests');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'hooks.yaml'),
    [
      'connection:',
      '  - key: hook',
      '    name: Hook',
      '    connection_type: https',
      '    secrets:',
      `      url: ${opts.url ?? 'https://hooks.example.com/privacy'}`,
      `      authorization: ${authorization}`, // line 7, the ref at column 22
      '',
    ].join('\n'),
  );
  for (const [name, content] of Object.entries(opts.files ?? {})) fs.writeFileSync(path.join(dir, name), content);
  return { cwd, dir };
}

async function cli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(args, { cwd, env: { HOOKCTL_MASTER_KEY: TEST_MASTER_KEY, HOOKCTL_DATABASE_URL: PLANTED.databaseUrl, GOOD_TOKEN: PLANTED.goodToken, ...env }, timeoutMs: 30_000 });
  outputs.push(r.stdout, r.stderr);
  return r;
}

const errorLines = (r: CliResult) => r.stderr.split('\n').filter((l) => l.startsWith('error'));

/** validate (json), plan and apply on the manifests: each exit code, and validate's diagnostics. */
async function allThree(cwd: string, extra: string[] = [], env: Record<string, string> = {}) {
  const validate = await cli(['validate', '--format', 'json', ...extra, 'manifests'], cwd, env);
  const plan = await cli(['plan', ...extra, 'manifests'], cwd, env);
  const apply = await cli(['apply', '--auto-approve', ...extra, 'manifests'], cwd, env);
  const report = JSON.parse(validate.stdout) as { diagnostics: { code: string; line: number; column: number; path: string; message: string }[] };
  return { codes: [validate.code, plan.code, apply.code], diagnostics: report.diagnostics, plan, apply };
}

describe('file refs that leave the manifest root as written: exit 3 from validate, plan and apply', () => {
  it.each([
    ['a relative path climbing out', '{ file: ../../../../../../../../etc/passwd }', '../../../../../../../../etc/passwd'],
    ['an absolute path', '{ file: /etc/passwd }', '/etc/passwd'],
    ['/proc/self/environ', '{ file: /proc/self/environ }', '/proc/self/environ'],
    ['a sibling folder of the root', '{ file: ../outside/token.txt }', '../outside/token.txt'],
  ])('%s', async (_, ref, written) => {
    const { cwd } = root(ref);
    const { codes, diagnostics, plan } = await allThree(cwd);
    expect(codes).toEqual([3, 3, 3]);
    expect(diagnostics).toEqual([
      expect.objectContaining({
        code: 'secret-file-outside-root',
        line: 7,
        column: 22,
        path: 'connection[0].secrets.authorization',
        message: expect.stringContaining(`secrets.authorization: file ${written} is outside the manifest root`),
      }),
    ]);
    expect(plan.stderr).toContain('manifests/hooks.yaml:7:22: error[secret-file-outside-root]');
    expect(plan.stderr).toContain('--secrets-dir');
  });

  it('the root is the folder named, or the folder of a file named: a sibling file is inside only when its folder is named', async () => {
    const { cwd } = root('{ file: ../shared/token.txt }');
    fs.mkdirSync(path.join(cwd, 'shared'));
    fs.writeFileSync(path.join(cwd, 'shared', 'token.txt'), PLANTED.goodToken);
    expect((await cli(['validate', 'manifests/hooks.yaml'], cwd)).code).toBe(3);
    // Named from above, the same manifests have the whole case folder as their root.
    expect((await cli(['validate', '.'], cwd)).code).toBe(0);
    expect((await cli(['plan', '.'], cwd)).code).toBe(0);
  });
});

describe("hookctl's own state files are never a secret, even inside the root", () => {
  const plantedKey = 'c3RhdGUta2V5LVBMQU5URUQtNWYzMQ==';
  afterAll(() => {
    for (const out of outputs) expect(out).not.toContain(plantedKey);
  });

  it('the master key in .hookctl/, as written: exit 3 from validate, plan and apply', async () => {
    const { cwd } = root('{ file: ../.hookctl/master.key }');
    fs.mkdirSync(path.join(cwd, '.hookctl'));
    fs.writeFileSync(path.join(cwd, '.hookctl', 'master.key'), `${plantedKey}\n`);
    const validate = await cli(['validate', '--format', 'json', '.'], cwd);
    const plan = await cli(['plan', '.'], cwd);
    const apply = await cli(['apply', '--auto-approve', '.'], cwd);
    expect([validate.code, plan.code, apply.code]).toEqual([3, 3, 3]);
    expect(JSON.parse(validate.stdout).diagnostics).toEqual([expect.objectContaining({ code: 'secret-file-is-state', line: 7, column: 22 })]);
    expect(plan.stderr).toContain("is hookctl's own state");
  });

  it('a master key beside a custom state file, reached through a symlink: exit 1, never read', async () => {
    const { cwd, dir } = root('{ file: token-link }');
    fs.mkdirSync(path.join(cwd, 'manifests', 'state'));
    fs.writeFileSync(path.join(dir, 'state', 'master.key'), `${plantedKey}\n`);
    fs.symlinkSync(path.join(dir, 'state', 'master.key'), path.join(dir, 'token-link'));
    const plan = await cli(['plan', 'manifests'], cwd);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain("is hookctl's own state");
  });
});

describe('file refs that are refused when resolved: exit 1 from plan and apply, named, never read', () => {
  it('a symlink inside the root pointing outside it', async () => {
    const { cwd, dir } = root('{ file: token-link }');
    fs.symlinkSync(path.join(work, 'outside', 'token.txt'), path.join(dir, 'token-link'));
    const { codes, plan, apply } = await allThree(cwd);
    expect(codes).toEqual([0, 1, 1]);
    for (const r of [plan, apply]) {
      expect(errorLines(r)).toEqual([
        `error: secret ref file token-link (connection 'hook', secrets.authorization): ${path.join(fs.realpathSync(dir), 'token-link')} leads outside the manifest root and every secrets dir through a symlink (to ${fs.realpathSync(path.join(work, 'outside', 'token.txt'))})`,
      ]);
    }
  });

  it('/dev/zero, even inside a secrets dir: a device is not opened', async () => {
    const { cwd } = root('{ file: /dev/zero }');
    const r = await cli(['plan', '--secrets-dir', '/dev', 'manifests'], cwd);
    expect(r.code).toBe(1);
    expect(errorLines(r)).toEqual(["error: secret ref file /dev/zero (connection 'hook', secrets.authorization): /dev/zero is not a regular file (it is a device)"]);
  });

  it('/dev/urandom through a symlink in a secrets dir', async () => {
    const { cwd } = root('{ file: ../secrets/random }');
    fs.mkdirSync(path.join(cwd, 'secrets'));
    fs.symlinkSync('/dev/urandom', path.join(cwd, 'secrets', 'random'));
    // The symlink leaves the secrets dir too…
    expect((await cli(['plan', '--secrets-dir', 'secrets', 'manifests'], cwd)).stderr).toContain('through a symlink');
    // …and with /dev allowed as well, it is still a device.
    const r = await cli(['plan', '--secrets-dir', 'secrets', '--secrets-dir', '/dev', 'manifests'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a regular file (it is a device)');
  });

  it('a FIFO inside the root does not hang', async () => {
    const { cwd, dir } = root('{ file: token.fifo }');
    execFileSync('mkfifo', [path.join(dir, 'token.fifo')]);
    const started = Date.now();
    const r = await cli(['plan', 'manifests'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('token.fifo is not a regular file (it is a FIFO)');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a folder is not a file', async () => {
    const { cwd, dir } = root('{ file: sub }');
    fs.mkdirSync(path.join(dir, 'sub'));
    expect((await cli(['plan', 'manifests'], cwd)).stderr).toContain('sub is not a regular file (it is a folder)');
  });

  it('a file of 64 KiB + 1 byte is refused; one of exactly 64 KiB is read', async () => {
    const big = root('{ file: big.txt }', { files: { 'big.txt': 'a'.repeat(64 * 1024 + 1) } });
    const r = await cli(['plan', 'manifests'], big.cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('big.txt is larger than 64 KiB');
    const exact = root('{ file: exact.txt }', { files: { 'exact.txt': 'a'.repeat(64 * 1024) } });
    expect((await cli(['plan', 'manifests'], exact.cwd)).code).toBe(0);
  });
});

describe("env refs may not name hookctl's own variables", () => {
  it.each(['HOOKCTL_MASTER_KEY', 'HOOKCTL_DATABASE_URL', 'HOOKCTL_OAUTH_ROOT_CLIENT_SECRET', 'HOOKCTL_SECRETS_DIR'])('%s: exit 3 from validate, plan and apply', async (name) => {
    const { cwd } = root(`{ env: ${name} }`);
    const { codes, diagnostics } = await allThree(cwd, [], { HOOKCTL_OAUTH_ROOT_CLIENT_SECRET: PLANTED.outsideToken, HOOKCTL_SECRETS_DIR: work });
    expect(codes).toEqual([3, 3, 3]);
    expect(diagnostics).toEqual([
      expect.objectContaining({ code: 'reserved-env-ref', line: 7, column: 22, message: `secrets.authorization: env ${name} is one of hookctl's own variables and cannot be a secret ref` }),
    ]);
  });

  it('HOOKCTL_SECRET_* (what export writes) is allowed', async () => {
    const { cwd } = root('{ env: HOOKCTL_SECRET_HOOK_AUTHORIZATION }');
    const r = await cli(['plan', 'manifests'], cwd, { HOOKCTL_SECRET_HOOK_AUTHORIZATION: PLANTED.goodToken });
    expect([r.code, r.stderr]).toEqual([0, '']);
  });
});

describe('--secrets-dir and HOOKCTL_SECRETS_DIR allow a folder outside the root', () => {
  it('as a flag (before or after the command, repeatable) and from the environment (:-separated)', async () => {
    const { cwd } = root('{ file: ../../outside/token.txt }');
    const outside = path.join(work, 'outside');
    expect((await cli(['validate', 'manifests'], cwd)).code).toBe(3);
    expect((await cli(['validate', '--secrets-dir', outside, 'manifests'], cwd)).code).toBe(0);
    expect((await cli(['--secrets-dir', '../outside', 'plan', 'manifests'], cwd)).code).toBe(0);
    expect((await cli(['plan', '--secrets-dir', '/nonexistent', '--secrets-dir', outside, 'manifests'], cwd)).code).toBe(0);
    expect((await cli(['plan', 'manifests'], cwd, { HOOKCTL_SECRETS_DIR: `/nonexistent:${outside}` })).code).toBe(0);
    const applied = await cli(['apply', '--auto-approve', 'manifests'], cwd, { HOOKCTL_SECRETS_DIR: outside });
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Apply complete!');
  });

  it('a saved plan re-resolves its refs against the root it was made with', async () => {
    const { cwd } = root('{ file: ../../outside/token.txt }');
    const outside = path.join(work, 'outside');
    // The state must exist before the plan is saved: one saved before it existed is refused as stale.
    fs.mkdirSync(path.join(cwd, 'nothing'));
    expect((await cli(['apply', '--auto-approve', 'nothing'], cwd)).code).toBe(0);
    expect((await cli(['plan', '--secrets-dir', outside, '--out', 'plan.json', 'manifests'], cwd)).code).toBe(0);
    const refused = await cli(['apply', '--plan', 'plan.json'], cwd);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("secret ref file ../../outside/token.txt (connection 'hook', secrets.authorization) is outside the manifest root");
    expect((await cli(['apply', '--plan', 'plan.json', '--secrets-dir', outside], cwd)).code).toBe(0);
  });
});

describe('every unresolvable ref in one run', () => {
  it('five unset env refs: exit 1, each named with connection and field', async () => {
    const cwd = path.join(work, 'five');
    fs.mkdirSync(path.join(cwd, 'manifests'), { recursive: true });
    const conn = (key: string, url: string, auth: string) =>
      [`  - key: ${key}`, `    name: ${key}`, '    connection_type: https', '    secrets:', `      url: ${url}`, `      authorization: ${auth}`].join('\n');
    fs.writeFileSync(
      path.join(cwd, 'manifests', 'hooks.yaml'),
      [
        'connection:',
        conn('a', '{ env: A_URL }', '{ env: A_TOKEN }'),
        conn('b', '{ env: B_URL }', '{ env: B_TOKEN }'),
        conn('c', 'https://c.example.com/hook', '{ env: C_TOKEN }'),
        conn('d', 'https://d.example.com/hook', '{ env: GOOD_TOKEN }'),
        '',
      ].join('\n'),
    );
    for (const command of [['plan'], ['apply', '--auto-approve']]) {
      const r = await cli([...command, 'manifests'], cwd);
      expect(r.code).toBe(1);
      expect(errorLines(r)).toEqual([
        "error: secret ref env A_URL (connection 'a', secrets.url) is not set",
        "error: secret ref env A_TOKEN (connection 'a', secrets.authorization) is not set",
        "error: secret ref env B_URL (connection 'b', secrets.url) is not set",
        "error: secret ref env B_TOKEN (connection 'b', secrets.authorization) is not set",
        "error: secret ref env C_TOKEN (connection 'c', secrets.authorization) is not set",
      ]);
      expect(r.stdout).toBe('');
    }
  });
});

describe('secret values are checked when written: exit 3 at plan time, the ref named, never the value', () => {
  it.each([
    ['CR LF', `${PLANTED.crlfToken}\r\nX-Injected: yes`],
    ['LF', `${PLANTED.crlfToken}\nX-Injected: yes`],
    ['CR', `${PLANTED.crlfToken}\rX`],
  ])('an authorization with %s (env ref)', async (_, value) => {
    const { cwd } = root('{ env: BAD_TOKEN }');
    for (const command of [['plan'], ['apply', '--auto-approve']]) {
      const r = await cli([...command, 'manifests'], cwd, { BAD_TOKEN: value });
      expect(r.code).toBe(3);
      expect(errorLines(r)).toEqual([
        "error: connection 'hook', secrets.authorization (env BAD_TOKEN) is not an allowed authorization: it contains a line break (CR or LF) or a NUL character, which a header value cannot hold",
      ]);
    }
  });

  it('an authorization with NUL (file ref; inner line breaks too, trailing ones are trimmed)', async () => {
    const { cwd } = root('{ file: token.txt }', { files: { 'token.txt': `${PLANTED.crlfToken}\0x\n` } });
    const r = await cli(['plan', 'manifests'], cwd);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("connection 'hook', secrets.authorization (file token.txt) is not an allowed authorization");
    fs.writeFileSync(path.join(cwd, 'manifests', 'token.txt'), `${PLANTED.goodToken}\r\n\n`);
    expect((await cli(['plan', 'manifests'], cwd)).code).toBe(0);
  });

  it('a url with a user and password: an env ref at plan time, a literal already at validate', async () => {
    const byRef = root('{ env: GOOD_TOKEN }', { url: '{ env: HOOK_URL }' });
    const r = await cli(['plan', 'manifests'], byRef.cwd, { HOOK_URL: PLANTED.userinfoUrl });
    expect(r.code).toBe(3);
    expect(errorLines(r)).toEqual([
      "error: connection 'hook', secrets.url (env HOOK_URL) is not an allowed webhook URL: it carries a user name or password; put credentials in authorization instead",
    ]);
    const userOnly = await cli(['plan', 'manifests'], byRef.cwd, { HOOK_URL: 'https://alice@hooks.example.com/privacy' });
    expect(userOnly.code).toBe(3);

    const literal = root('{ env: GOOD_TOKEN }', { url: PLANTED.userinfoUrl });
    const v = await cli(['validate', 'manifests'], literal.cwd);
    expect(v.code).toBe(3);
    expect(v.stdout).toContain('error[invalid-url]: url is not allowed: it carries a user name or password');
  });

  it('bad values and unresolvable refs together: every one named, exit 1', async () => {
    const { cwd } = root('{ env: BAD_TOKEN }', { url: '{ env: UNSET_URL }' });
    const r = await cli(['plan', 'manifests'], cwd, { BAD_TOKEN: `${PLANTED.crlfToken}\n1` });
    expect(r.code).toBe(1);
    expect(errorLines(r)).toEqual([
      "error: secret ref env UNSET_URL (connection 'hook', secrets.url) is not set",
      expect.stringContaining("error: connection 'hook', secrets.authorization (env BAD_TOKEN) is not an allowed authorization"),
    ]);
  });
});
