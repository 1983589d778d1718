import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { HookctlError } from '../errors.js';

/** Options every command accepts, before or after the command name (contract section 2). */
export interface GlobalOptions {
  databaseUrl?: string;
  color: boolean;
  debug: boolean;
  /** Absolute folders that `{ file }` refs may read besides the manifest root. */
  secretsDirs: string[];
}

export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--database-url <url>', 'state database: sqlite:PATH or postgres://… (default sqlite:.hookctl/state.db)').env('HOOKCTL_DATABASE_URL'))
    .addOption(
      new Option('--secrets-dir <dir>', 'a folder { file } secret refs may read besides the manifest root (repeatable; also HOOKCTL_SECRETS_DIR, :-separated)').argParser(
        (dir: string, previous: string[] | undefined) => [...(previous ?? []), dir],
      ),
    )
    .option('--no-color', 'no colours in output (also NO_COLOR)')
    .option('--debug', 'print stack traces for errors');
}

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { databaseUrl?: string; color?: boolean; debug?: boolean };
  const color = o.color !== false && !process.env.NO_COLOR && process.stdout.isTTY === true;
  return { databaseUrl: o.databaseUrl, color, debug: o.debug === true, secretsDirs: secretsDirs(cmd) };
}

/**
 * `--secrets-dir` given before and after the command name adds up; given at all, it replaces
 * HOOKCTL_SECRETS_DIR (as a flag replaces its variable everywhere else). Relative to the cwd.
 */
function secretsDirs(cmd: Command): string[] {
  const given: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) given.unshift(...((c.opts() as { secretsDir?: string[] }).secretsDir ?? []));
  const dirs = given.length > 0 ? given : (process.env.HOOKCTL_SECRETS_DIR ?? '').split(':');
  return dirs.filter((d) => d !== '').map((d) => path.resolve(d));
}

export function readVersion(): string {
  const pkgUrl = new URL('../../../package.json', import.meta.url);
  try {
    return (JSON.parse(fs.readFileSync(pkgUrl, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** `500ms`, `30s`, `5m`, `1h` → milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new HookctlError(`${flag} '${text}' is not a duration`, 64, 'write durations like 500ms, 30s, 5m or 1h');
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}
