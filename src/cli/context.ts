import { Command, Option } from 'commander';

/** Options every command accepts, before or after the command name (contract section 2). */
export interface GlobalOptions {
  databaseUrl?: string;
  color: boolean;
  debug: boolean;
}

export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--database-url <url>', 'state database: sqlite:PATH or postgres://… (default sqlite:.hookctl/state.db)').env('HOOKCTL_DATABASE_URL'))
    .option('--no-color', 'no colours in output (also NO_COLOR)')
    .option('--debug', 'print stack traces for errors');
}

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { databaseUrl?: string; color?: boolean; debug?: boolean };
  const color = o.color !== false && !process.env.NO_COLOR && process.stdout.isTTY === true;
  return { databaseUrl: o.databaseUrl, color, debug: o.debug === true };
}
