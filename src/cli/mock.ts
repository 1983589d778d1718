import type { Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { addGlobalOptions, globalOptions } from './context.js';
import { parsePort } from './flags.js';

interface MockServeFlags {
  host: string;
  port: string;
  callbackBase?: string;
}

/**
 * `hookctl mock serve SCENARIO`: the scenario's endpoints on a real port, for a `hookctl serve`
 * in another process. Each endpoint answers at /HOST/PATH of its url (see harness/mock-server.ts);
 * one line per call and resume callback goes to stderr. Runs until SIGINT/SIGTERM.
 */
export function registerMock(program: Command): Command {
  const mock = program.command('mock').description('simulated webhook endpoints for a server in another process');
  const serve = mock
    .command('serve')
    .description("serve a scenario's endpoints on a real HTTP port, each at /HOST/PATH of its url")
    .argument('<scenario>', 'scenario file holding one scenario')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0: any free port; the URL is printed)', '0')
    .option('--callback-base <url>', 'URL of the server running the requests: resume callbacks POST to it + the reply-to header')
    .addHelpText(
      'after',
      "\nAn endpoint with url https://identity.example.com/hooks/privacy answers at\nhttp://127.0.0.1:PORT/identity.example.com/hooks/privacy: point the connection's secrets.url there.\nThe scenario's requests and expectations are not used.",
    )
    .action(async (file: string, flags: MockServeFlags, cmd: Command) => {
      const g = globalOptions(cmd);
      const port = parsePort(flags.port);
      if (flags.callbackBase !== undefined && !/^https?:\/\/[^/]/.test(flags.callbackBase)) {
        throw new HookctlError(`--callback-base '${flags.callbackBase}' is not an http(s) URL`, ExitCode.usage, 'e.g. http://127.0.0.1:8080, where hookctl serve listens');
      }

      const { loadScenarios } = await import('../../harness/scenario.js');
      const { startMockServer } = await import('../../harness/mock-server.js');
      const { formatDiagnostics } = await import('../manifest/diagnostics.js');
      const loaded = await loadScenarios([file], process.cwd());
      const [scenario, ...more] = loaded.scenarios;
      const problems = loaded.diagnostics;
      if (problems.length > 0) process.stderr.write(`${formatDiagnostics(problems, 'text', { color: g.stderrColor, sources: loaded.sources })}\n`);
      if (problems.some((d) => d.severity === 'error')) throw new HookctlError('the scenario is invalid; nothing is served', ExitCode.invalid);
      if (!scenario || more.length > 0) {
        throw new HookctlError(`${file} holds ${loaded.scenarios.length} scenarios; mock serve serves one`, ExitCode.invalid, 'put the scenario in a file of its own');
      }
      const answers = scenario.endpoints.flatMap((e) => [e.answer, ...e.times]);
      if (!flags.callbackBase && answers.some((a) => a.resume)) {
        throw new HookctlError(
          `scenario '${scenario.name}' sends resume callbacks, and there is nowhere to send them`,
          ExitCode.usage,
          'give --callback-base with the URL of the hookctl serve that runs the requests, e.g. http://127.0.0.1:8080',
        );
      }
      if (answers.some((a) => a.resume?.token === 'expired')) {
        process.stderr.write("warning: resumes with `token: expired` need the engine's key, which only hookctl simulate has: they are not sent\n");
      }

      const server = await startMockServer(scenario, {
        host: flags.host,
        port,
        callbackBase: flags.callbackBase,
        log: (line) => process.stderr.write(`${line}\n`),
      }).catch((err: NodeJS.ErrnoException) => {
        const inUse = err.code === 'EADDRINUSE';
        throw new HookctlError(`cannot listen on ${flags.host}:${flags.port}: ${inUse ? 'the address is in use' : err.message}`, ExitCode.runtime, inUse ? 'choose another --port' : undefined);
      });
      const lines = [`hookctl mock serve: scenario '${scenario.name}' listening on ${server.url}`];
      for (const route of server.routes) lines.push(`  ${route.method} ${server.url}${route.path}  (${route.url})`);
      process.stdout.write(`${lines.join('\n')}\n`);

      await new Promise<NodeJS.Signals>((resolve) => {
        for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve(s));
      });
      await server.close();
    });
  // main.ts adds the global options to the command returned; the subcommand needs them too.
  addGlobalOptions(serve).exitOverride();
  return mock;
}
