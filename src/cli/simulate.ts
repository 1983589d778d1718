import type { Command } from 'commander';

// Placeholder until the simulate integration lands.
export function registerSimulate(program: Command): Command {
  return program.command('simulate').description('(not built yet)');
}
