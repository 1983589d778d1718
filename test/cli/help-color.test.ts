/** Every command's --help, and colour decided per output stream. Through the built CLI. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ESC = '\u001b[';

/** The command names listed under `Commands:` in a help text. */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  return [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
}

describe('--help', () => {
  it('every command (found from the help itself) shows examples and the exit codes', async () => {
    const seen: string[] = [];
    const visit = async (cmdPath: string[]) => {
      const r = await runCli([...cmdPath, '--help'], { cwd: ROOT });
      expect(r.code, cmdPath.join(' ')).toBe(0);
      expect(r.stdout, cmdPath.join(' ')).toMatch(/^Examples:\n {2}\$ hookctl /m);
      expect(r.stdout, cmdPath.join(' ')).toContain('Exit codes:');
      for (const line of ['0   success', '1   runtime error', '3   invalid input', '5   the state lock is held', '6   saved plan is stale', '64  usage error', '130 interrupted']) {
        expect(r.stdout, cmdPath.join(' ')).toContain(line);
      }
      seen.push(cmdPath.join(' '));
      for (const sub of listedCommands(r.stdout)) await visit([...cmdPath, sub]);
    };
    await visit([]);
    expect(seen).toEqual(expect.arrayContaining(['', 'validate', 'plan', 'apply', 'export', 'history', 'serve', 'token', 'token create', 'run', 'simulate', 'mock', 'mock serve']));
  });
});

describe('colour', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookctl-colour-'));
    fs.cpSync(path.join(ROOT, 'examples/quickstart'), path.join(dir, 'ok'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'bad'));
    fs.writeFileSync(path.join(dir, 'bad', 'm.yaml'), 'connection:\n  - key: c1\n    name: 7\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const onTerminal = async (args: string[], env: Record<string, string | undefined> = {}, redirect?: string) => {
    const t = runInPty(args, { cwd: dir, env, redirect });
    const code = await t.exited;
    return { code, output: t.output() };
  };

  it('appears on a terminal, and not with NO_COLOR, TERM=dumb or --no-color', async () => {
    const colored = await onTerminal(['validate', 'ok']);
    expect(colored.code).toBe(0);
    expect(colored.output).toContain('valid');
    expect(colored.output).toContain(ESC);
    for (const [args, env] of [
      [['validate', 'ok'], { NO_COLOR: '1' }],
      [['validate', 'ok'], { TERM: 'dumb' }],
      [['validate', 'ok', '--no-color'], {}],
      [['--no-color', 'validate', 'ok'], { FORCE_COLOR: '1' }],
    ] as const) {
      const plain = await onTerminal([...args], env);
      expect(plain.output, JSON.stringify([args, env])).toContain('valid');
      expect(plain.output, JSON.stringify([args, env])).not.toContain(ESC);
    }
  });

  it('piped: none, unless FORCE_COLOR=1', async () => {
    const piped = await runCli(['validate', 'ok'], { cwd: dir, env: { NO_COLOR: undefined } });
    expect(piped.stdout).toContain('valid');
    expect(piped.stdout).not.toContain(ESC);
    const forced = await runCli(['validate', 'ok'], { cwd: dir, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain(ESC);
  });

  it("each stream follows its own terminal: stderr's diagnostics are coloured on a terminal while stdout is a file, and stdout in a file is plain", async () => {
    const diagnostics = await onTerminal(['plan', 'bad'], {}, '>plan-out.txt');
    expect(diagnostics.code).toBe(3);
    expect(diagnostics.output).toContain('error');
    expect(diagnostics.output).toContain(ESC);
    const toFile = await onTerminal(['validate', 'ok'], {}, '>validate-out.txt');
    expect(toFile.code).toBe(0);
    const written = fs.readFileSync(path.join(dir, 'validate-out.txt'), 'utf8');
    expect(written).toContain('valid');
    expect(written).not.toContain(ESC);
  });
});
