import type { Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { addGlobalOptions, globalOptions } from './context.js';
import { DURATIONS, parseDuration } from './flags.js';
import { currentActor } from './session.js';

/** `hookctl token create`: a bearer token for the HTTP API, alone on stdout (for scripts). */
export function registerToken(program: Command): Command {
  const token = program.command('token').description('bearer tokens for the HTTP API of hookctl serve');
  const create = token
    .command('create')
    .description('print a bearer token with the given scopes')
    .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. webhook:read,webhook:create_or_update')
    .option('--ttl <duration>', 'lifetime: 30s, 5m, 1h, 1d (1s to 365d)', '1h')
    .action(async (flags: { scopes: string; ttl: string }, cmd: Command) => {
      const ttlMs = parseDuration(flags.ttl, DURATIONS.ttl);
      const { issueApiToken, isScope, SCOPES } = await import('../server/auth.js');
      const scopes = flags.scopes
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const unknown = scopes.filter((s) => !isScope(s));
      if (unknown.length > 0 || scopes.length === 0) {
        const what = unknown.length > 0 ? `unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => `'${s}'`).join(', ')}` : 'no scopes given';
        throw new HookctlError(`--scopes: ${what}`, ExitCode.usage, `valid scopes: ${SCOPES.join(', ')}`);
      }
      const { parseDatabaseUrl } = await import('../state/database.js');
      const { loadMasterKey } = await import('../state/keys.js');
      const keys = loadMasterKey(parseDatabaseUrl(globalOptions(cmd).databaseUrl, process.cwd()));
      // The token's client is its creator: API writes made with it appear in history as api:cli:<user>.
      process.stdout.write(`${await issueApiToken(keys, scopes.filter(isScope), ttlMs, `cli:${currentActor()}`)}\n`);
    });
  // main.ts adds the global options to the command returned; the subcommand needs them too.
  addGlobalOptions(create).exitOverride();
  return token;
}
