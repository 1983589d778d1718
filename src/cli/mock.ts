import type { Command } from 'commander';

// Placeholder until the simulate integration lands.
export function registerMock(program: Command): Command {
  return program.command('mock').description('(not built yet)');
}
