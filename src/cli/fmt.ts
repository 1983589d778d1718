import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { globalOptions, noteSkipped } from './context.js';

/**
 * `hookctl fmt`: manifests rewritten in canonical form. Exit 0 done (or, with --check, nothing
 * to change), 2 with --check when a file would change, 3 when a file cannot be formatted.
 */
export function registerFmt(program: Command): Command {
  return program
    .command('fmt')
    .description('rewrite manifests in canonical form: 2-space indent, fields in schema order, comments kept')
    .argument('[paths...]', 'manifest files or folders (scenario files among them are skipped)', ['.'])
    .option('--check', 'write nothing: list the files that are not canonical and exit 2 if there are any')
    .addHelpText('after', '\nPrints the files it rewrote (with --check: that it would rewrite), one per line.\nExit codes: 0 formatted (--check: all canonical), 2 --check found files to format, 3 a file does not parse or is neither a manifest nor a scenario (it is left untouched).')
    .action(async (paths: string[], opts: { check?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const { formatFiles } = await import('../manifest/format.js');
      const { formatDiagnostics } = await import('../manifest/diagnostics.js');
      const result = formatFiles(paths, { cwd: process.cwd(), check: opts.check === true });
      noteSkipped(result.skipped, g);
      for (const file of result.changed) process.stdout.write(`${file}\n`);
      if (result.diagnostics.length > 0) process.stderr.write(formatDiagnostics(result.diagnostics, 'text', { color: g.color, sources: result.sources }));
      // Not thrown: the diagnostics are the report, no `error:` line after them.
      if (result.diagnostics.some((d) => d.severity === 'error')) process.exitCode = ExitCode.invalid;
      else if (opts.check && result.changed.length > 0) process.exitCode = ExitCode.changes;
    });
}
