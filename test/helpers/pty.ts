/**
 * Runs the built CLI on a real pseudo-terminal (util-linux `script`), so that stdin and stdout
 * are terminals as for a person at a shell: prompts, Ctrl-C, colour.
 */
import { spawn } from 'node:child_process';
import { CLI } from './cli.js';

export interface PtySession {
  /** Everything the terminal showed so far (stdout and stderr, as on a screen). */
  output(): string;
  /** Resolves once the terminal has shown `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Types on the keyboard (`\x03` is Ctrl-C). */
  type(keys: string): void;
  /** The CLI's exit code (130 when a signal killed it after Ctrl-C). */
  exited: Promise<number | null>;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `redirect`: shell redirections after the command (`>out.txt`), to take a stream off the terminal. */
export function runInPty(args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; redirect?: string }): PtySession {
  const command = [[process.execPath, CLI, ...args].map(quote).join(' '), opts.redirect ?? ''].join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, USER: 'tester', TERM: 'xterm-256color', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve(code);
    }),
  );
  return {
    output: () => out,
    waitFor(text, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the terminal never showed '${text}'; it showed:\n${out}`)), timeoutMs);
        const check = () => {
          if (!out.includes(text)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
      });
    },
    type: (keys) => child.stdin.write(keys),
    exited,
  };
}
