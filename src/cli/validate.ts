import { type Command, Option } from 'commander';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { countBySeverity, DIAGNOSTIC_FORMATS, type DiagnosticFormat, formatDiagnostics, plural } from '../manifest/diagnostics.js';
import type { SkippedFile } from '../manifest/kind.js';
import { loadManifests } from '../manifest/load.js';
import { globalOptions, noteSkipped } from './context.js';
import { painter } from '../paint.js';

export function registerValidate(program: Command): Command {
  return program
    .command('validate')
    .description('load and validate manifests offline (no state, no secrets)')
    .argument('[paths...]', 'manifest files or folders', ['.'])
    .addOption(new Option('--format <format>', 'output format').choices(DIAGNOSTIC_FORMATS).default('text'))
    .action((paths: string[], opts: { format: DiagnosticFormat }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { output, exitCode, skipped } = runValidate(paths, opts.format, g.color, process.cwd(), g.secretsDirs);
      noteSkipped(skipped, g);
      process.stdout.write(output);
      // Not thrown: the diagnostics are the whole report, no `error:` line after them.
      process.exitCode = exitCode;
    });
}

/** Exit 0 when valid (warnings allowed), 3 when any error. */
export function runValidate(
  paths: string[],
  format: DiagnosticFormat,
  color: boolean,
  cwd: string = process.cwd(),
  secretsDirs: readonly string[] = [],
): { output: string; exitCode: ExitCodeValue; skipped: SkippedFile[] } {
  const { state, diagnostics, sources, skipped } = loadManifests(paths, { cwd, secretsDirs });
  let output = formatDiagnostics(diagnostics, format, { color, sources });
  if (format === 'text' && state) {
    const webhooks = state.policies.reduce(
      (n, p) => n + (p.pre_execution_webhooks?.length ?? 0) + (p.post_execution_webhooks?.length ?? 0),
      0,
    );
    const counts = [
      plural(state.files.length, 'file'),
      plural(state.connections.length, 'connection'),
      plural(state.policies.length, 'policy', 'policies'),
      plural(webhooks, 'webhook'),
    ];
    output += `${painter(color).green(`✓ ${counts.join(', ')}: valid`)}\n`;
  }
  return { output, exitCode: countBySeverity(diagnostics).errors > 0 ? ExitCode.invalid : ExitCode.ok, skipped };
}
