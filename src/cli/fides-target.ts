/**
 * The target option of plan, apply, export and history: hookctl's own state (default) or a
 * Fides server (`--fides-url`, HOOKCTL_FIDES_URL). Credentials come from the environment only.
 */
import { Option, type Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { DURATIONS, durationOption, parseDuration, parseInteger } from './flags.js';

export interface FidesTargetFlags {
  fidesUrl?: string;
  fidesTimeout: string;
  parallelism: string;
}

/** Adds --fides-url (and, with `calls`, the options of commands that call the server). */
export function addFidesTargetOptions(cmd: Command, { calls = true } = {}): Command {
  cmd.addOption(new Option('--fides-url <url>', 'work on this Fides server instead of the state (credentials: HOOKCTL_FIDES_CLIENT_ID/_SECRET or HOOKCTL_FIDES_TOKEN)').env('HOOKCTL_FIDES_URL'));
  if (!calls) return cmd;
  return cmd
    .addOption(durationOption(DURATIONS.fidesTimeout, 'bound of each call to the Fides server: 500ms, 30s, 2m; a bare number is seconds').default('30s'))
    .option('--parallelism <n>', 'at most this many calls to the Fides server at once', '8');
}

export interface FidesConnectSettings {
  target: string;
  timeoutMs: number;
  parallelism: number;
}

/**
 * The server URL normalized, flags parsed: all usage errors (64) before any request. Undefined
 * when no --fides-url is given (the command works on the state).
 */
export async function fidesSettings(flags: Partial<FidesTargetFlags>): Promise<FidesConnectSettings | undefined> {
  if (flags.fidesUrl === undefined || flags.fidesUrl === '') return undefined;
  const { normalizeFidesUrl } = await import('../fides/url.js');
  return {
    target: normalizeFidesUrl(flags.fidesUrl),
    timeoutMs: parseDuration(flags.fidesTimeout ?? '30s', DURATIONS.fidesTimeout),
    parallelism: parseInteger(flags.parallelism ?? '8', '--parallelism', 1, 64),
  };
}

/** A client of the server with the environment's credentials (a usage error when there are none). */
export async function openFidesClient(settings: FidesConnectSettings, env: NodeJS.ProcessEnv = process.env) {
  const { FidesClient } = await import('../fides/client.js');
  const id = env.HOOKCTL_FIDES_CLIENT_ID;
  const secret = env.HOOKCTL_FIDES_CLIENT_SECRET;
  const token = env.HOOKCTL_FIDES_TOKEN;
  let credentials: import('../fides/client.js').FidesCredentials;
  if (id && secret) credentials = { kind: 'client', clientId: id, clientSecret: secret };
  else if (token) credentials = { kind: 'token', token };
  else {
    throw new HookctlError(
      `no credentials for the Fides server ${settings.target}`,
      ExitCode.usage,
      'set HOOKCTL_FIDES_CLIENT_ID and HOOKCTL_FIDES_CLIENT_SECRET (OAuth client credentials), or HOOKCTL_FIDES_TOKEN',
    );
  }
  return new FidesClient({ ...settings, credentials });
}
