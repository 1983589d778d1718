#!/usr/bin/env node
/**
 * hookctl's entry point: wiring only. Each command lives in its own file and imports its
 * heavy modules (database drivers, fastify, msw) lazily inside its action, so that
 * `hookctl validate` starts fast.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { addGlobalOptions } from './context.js';
import { addExamplesAndExitCodes } from './help.js';
import { hookctlVersion } from '../version.js';
import { registerValidate } from './validate.js';
import { registerPlan } from './plan.js';
import { registerApply } from './apply.js';
import { registerShow } from './show.js';
import { registerExport } from './export.js';
import { registerHistory } from './history.js';
import { registerRun } from './run.js';
import { registerServe } from './serve.js';
import { registerToken } from './token.js';
import { registerSimulate } from './simulate.js';
import { registerMock } from './mock.js';
import { registerFmt } from './fmt.js';

const program = new Command('hookctl')
  .description('GitOps for privacy-request policy webhooks')
  .version(hookctlVersion(), '--version')
  .showHelpAfterError('(run hookctl --help for usage)')
  .exitOverride();
addGlobalOptions(program);

for (const register of [registerValidate, registerFmt, registerPlan, registerApply, registerShow, registerExport, registerHistory, registerServe, registerToken, registerRun, registerSimulate, registerMock]) {
  const cmd = register(program);
  addGlobalOptions(cmd).exitOverride();
}
addExamplesAndExitCodes(program);

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
  await program.parseAsync(process.argv);
} catch (err) {
  reportAndExit(err);
}
