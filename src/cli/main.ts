#!/usr/bin/env node
/**
 * hookctl's entry point: wiring only. Each command lives in its own file and imports its
 * heavy modules (database drivers, fastify, msw) lazily inside its action; only the command
 * being run is even imported, so that `hookctl validate` starts fast.
 */
import module from 'node:module';
import { Command, CommanderError } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { addGlobalOptions } from './context.js';
import { addExamplesAndExitCodes } from './help.js';
import { hookctlVersion } from '../version.js';

// Node >= 22.1 keeps the compiled code of the modules imported from here on (the command and its
// dependencies) in a cache under the temporary folder, for the next start; Node 20 has no such
// cache for ES modules, and there the call does not exist.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

type Register = (program: Command) => Command;

/** Every command, in the order `hookctl --help` lists them. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  validate: async () => (await import('./validate.js')).registerValidate,
  fmt: async () => (await import('./fmt.js')).registerFmt,
  plan: async () => (await import('./plan.js')).registerPlan,
  apply: async () => (await import('./apply.js')).registerApply,
  show: async () => (await import('./show.js')).registerShow,
  export: async () => (await import('./export.js')).registerExport,
  history: async () => (await import('./history.js')).registerHistory,
  serve: async () => (await import('./serve.js')).registerServe,
  token: async () => (await import('./token.js')).registerToken,
  run: async () => (await import('./run.js')).registerRun,
  simulate: async () => (await import('./simulate.js')).registerSimulate,
  mock: async () => (await import('./mock.js')).registerMock,
};

/** Global options that take a value as the next argument (see addGlobalOptions). */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--database-url', '--secrets-dir']);

/**
 * The command named on the command line: the first argument that is neither an option nor a
 * global option's value, if it is a command. Otherwise (help, a version, a typo) every command is
 * registered, so that help lists them all and a typo gets its suggestion.
 */
function commandNamed(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return undefined;
    if (arg.startsWith('-')) {
      if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) i++;
      continue;
    }
    return Object.hasOwn(COMMANDS, arg) ? arg : undefined;
  }
  return undefined;
}

async function buildProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('hookctl')
    .description('GitOps for privacy-request policy webhooks')
    .version(hookctlVersion(), '--version')
    .showHelpAfterError('(run hookctl --help for usage)')
    .exitOverride();
  addGlobalOptions(program);
  const named = commandNamed(args);
  const registers = await Promise.all((named ? [named] : Object.keys(COMMANDS)).map((name) => COMMANDS[name]!()));
  for (const register of registers) addGlobalOptions(register(program)).exitOverride();
  addExamplesAndExitCodes(program);
  return program;
}

function reportAndExit(err: unknown): never {
  const debug = process.argv.includes('--debug');
  if (err instanceof CommanderError) {
    // help/version print and exit 0; every other parse problem is a usage error.
    process.exit(err.exitCode === ExitCode.ok ? ExitCode.ok : ExitCode.usage);
  }
  if (err instanceof HookctlError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(err.exitCode);
  }
  const e = err as Error & { code?: unknown; syscall?: unknown; severity?: unknown };
  const known = describeEnvironmentError(e);
  process.stderr.write(`error: ${known?.message ?? e?.message ?? String(err)}\n`);
  if (debug) process.stderr.write(`${e?.stack ?? ''}\n`);
  else process.stderr.write(`hint: ${known?.hint ?? 'this is a bug in hookctl; run again with --debug for a stack trace'}\n`);
  process.exit(ExitCode.runtime);
}

/**
 * Errors of the machine rather than of hookctl (files, the database): said plainly. A driver
 * error's message starts with the SQL, which can carry bound values: only the cause is shown.
 */
function describeEnvironmentError(e: { code?: unknown; syscall?: unknown; severity?: unknown; message?: string }): { message: string; hint: string } | null {
  const cause = (e.message ?? '').split(' - ').pop() ?? '';
  if (e.code === 'SQLITE_BUSY') {
    return { message: 'the state database is busy: another process holds its write lock', hint: 'try again when the other apply or server write has finished' };
  }
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return { message: `state database: ${cause}`, hint: 'check the SQLite file and its folder (permissions, disk space)' };
  if (typeof e.severity === 'string' && typeof e.code === 'string') return { message: `state database: ${cause}`, hint: `PostgreSQL error ${e.code}` };
  if (typeof e.code === 'string' && typeof e.syscall === 'string') return { message: e.message ?? e.code, hint: 'check the path and its permissions' };
  return null;
}

try {
  const program = await buildProgram(process.argv.slice(2));
  await program.parseAsync(process.argv);
} catch (err) {
  reportAndExit(err);
}
