import type { Command } from 'commander';

// Placeholder wiring; the manifest loader lands with the manifest module.
export function registerValidate(program: Command): Command {
  return program
    .command('validate')
    .description('load and validate manifests offline (no state, no secrets)')
    .argument('[paths...]', 'manifest files or folders', ['.'])
    .option('--format <format>', 'text | json | github', 'text')
    .action(async () => {
      throw new Error('validate is not wired yet');
    });
}
