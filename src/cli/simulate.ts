import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import type { Diagnostic } from '../manifest/diagnostics.js';
import { globalOptions, type GlobalOptions, noteSkipped } from './context.js';
import { DURATIONS, durationOption, parseOptionalDuration } from './flags.js';
import { ensureDir } from '../fs-paths.js';
import { REPORTER_FORMATS, type ReporterFormat } from '../../harness/report-formats.js';

interface SimulateFlags {
  manifests: string[];
  reporter: ReporterFormat;
  output?: string;
  webhookTimeout?: string;
}

/** Scenario folder read when no path is given. */
const DEFAULT_SCENARIOS = 'scenarios';

/**
 * `hookctl simulate`: scenarios against the real engine, each on a throwaway state, so runs
 * never touch a real one and never see each other. Exit 0 all passed, 3 scenarios or manifests invalid (nothing run), 4 an
 * expectation failed. The harness, msw, fastify and knex load inside the action.
 */
export function registerSimulate(program: Command): Command {
  return program
    .command('simulate')
    .description('run harness scenarios: scripted webhook endpoints, the real engine, expectations')
    .argument('[scenarios...]', `scenario files or folders (default: ${DEFAULT_SCENARIOS})`)
    // One path per flag: a variadic option would take the scenario paths written after it.
    .option('--manifests <path>', "manifest file or folder for every scenario; repeat the flag for more (default: each scenario's `manifests:`)", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .addOption(new Option('--reporter <format>', 'report format').choices(REPORTER_FORMATS).default('text'))
    .option('--output <file>', 'write the report to FILE (stdout then gets the text report)')
    .addOption(durationOption(DURATIONS.webhookTimeout, 'timeout of one webhook call whose connection sets no timeout_ms; a bare number is ms (default 30s)'))
    .addHelpText(
      'after',
      '\nSecret refs in the manifests resolve from each scenario\'s `env`, never from the process environment.',
    )
    .action(async (paths: string[], flags: SimulateFlags, cmd: Command) => {
      const g = globalOptions(cmd);
      const { DEFAULT_WEBHOOK_TIMEOUT_MS } = await import('../engine/webhook-client.js');
      const webhookTimeoutMs = parseOptionalDuration(flags.webhookTimeout, DURATIONS.webhookTimeout) ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
      const cwd = process.cwd();

      const { loadScenarios } = await import('../../harness/scenario.js');
      const loaded = await loadScenarios(paths.length > 0 ? paths : [DEFAULT_SCENARIOS], cwd);
      noteSkipped(loaded.skipped, g);
      await reportDiagnostics(loaded.diagnostics, loaded.sources, g);
      if (hasErrors(loaded.diagnostics)) throw new HookctlError('scenarios are invalid; nothing was run', ExitCode.invalid);
      if (loaded.scenarios.length === 0) throw new HookctlError('no scenarios to run', ExitCode.invalid, 'give scenario files or folders, e.g. hookctl simulate scenarios/');

      const { bindManifests } = await import('../../harness/manifest-binding.js');
      const binding = bindManifests(loaded.scenarios, { manifests: flags.manifests.length > 0 ? flags.manifests : undefined, cwd, secretsDirs: g.secretsDirs });
      await reportDiagnostics(binding.diagnostics, new Map([...loaded.sources, ...binding.sources]), g);
      if (hasErrors(binding.diagnostics)) throw new HookctlError('scenarios cannot run against their manifests; nothing was run', ExitCode.invalid);

      const { runScenarios } = await import('../../harness/runner.js');
      const { EngineHost, scenarioDeadlineMs } = await import('../../harness/engine-target.js');
      const { formatReport } = await import('../../harness/reporters.js');
      const desiredOf = (s: (typeof loaded.scenarios)[number]) => binding.desiredOf(s);
      const host = await EngineHost.start();
      let report: Awaited<ReturnType<typeof runScenarios>>;
      try {
        report = await runScenarios(loaded.scenarios, host.targetFactory(desiredOf, { webhookTimeoutMs, secretsDirs: g.secretsDirs }), {
          scenarioTimeoutMs: scenarioDeadlineMs(loaded.scenarios.map(desiredOf), webhookTimeoutMs),
        });
      } finally {
        await host.close();
      }

      if (flags.output) {
        const file = path.resolve(cwd, flags.output);
        ensureDir(path.dirname(file), 'the report folder');
        await writeFile(file, formatReport(report, flags.reporter, { color: false }));
      }
      const onStdout = flags.output ? 'text' : flags.reporter;
      process.stdout.write(formatReport(report, onStdout, { color: g.color && onStdout === 'text', verbose: g.verbose }));
      if (report.failed > 0) process.exitCode = ExitCode.simulationFailed;
    });
}

function hasErrors(diagnostics: Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

async function reportDiagnostics(diagnostics: Diagnostic[], sources: Map<string, string>, g: GlobalOptions): Promise<void> {
  if (diagnostics.length === 0) return;
  const { formatDiagnostics } = await import('../manifest/diagnostics.js');
  process.stderr.write(`${formatDiagnostics(diagnostics, 'text', { color: g.stderrColor, sources })}\n`);
}

