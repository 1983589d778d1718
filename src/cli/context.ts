import path from 'node:path';
import { Command, Option } from 'commander';
import { createSupportsColor } from 'supports-color';
import type { SkippedFile } from '../manifest/kind.js';

/** Options every command accepts, before or after the command name, so scripts may put them anywhere. */
export interface GlobalOptions {
  databaseUrl?: string;
  /** Colour on stdout. */
  color: boolean;
  /** Colour on stderr (diagnostics, notes): that stream's own terminal decides. */
  stderrColor: boolean;
  debug: boolean;
  /** Notes on stderr about what a command left out (files of the other kind). */
  verbose: boolean;
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
    .option('--debug', 'print stack traces for errors')
    .option('--verbose', 'more detail: which files were skipped and why; simulate: every expectation, not only the failures');
}

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { databaseUrl?: string; color?: boolean; debug?: boolean; verbose?: boolean };
  const colorOn = (stream: NodeJS.WriteStream) => o.color !== false && streamHasColor(stream);
  return {
    databaseUrl: o.databaseUrl,
    color: colorOn(process.stdout),
    stderrColor: colorOn(process.stderr),
    debug: o.debug === true,
    verbose: o.verbose === true,
    secretsDirs: secretsDirs(cmd),
  };
}

/** Under --verbose, one note per file left out because it is of the other kind. */
export function noteSkipped(skipped: readonly SkippedFile[], g: GlobalOptions): void {
  if (!g.verbose) return;
  for (const s of skipped) process.stderr.write(`note: skipped ${s.file}: a ${s.kind} file\n`);
}

/**
 * NO_COLOR (any non-empty value) turns colour off; otherwise supports-color decides from
 * FORCE_COLOR, TERM=dumb and whether this stream is a terminal. Flags are not sniffed from argv:
 * `--no-color` is commander's, and wins over everything.
 */
function streamHasColor(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR) return false;
  return createSupportsColor(stream, { sniffFlags: false }) !== false;
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
