import type { Command } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { addGlobalOptions, globalOptions, noteSkipped } from './context.js';
import { listenError, parsePort, shutdownSignal } from './flags.js';

interface MockServeFlags {
  host: string;
  port: string;
  callbackBase?: string;
}

/**
 * `hookctl mock serve SCENARIO|FOLDER`: the endpoints of the scenarios on a real port, for a
 * `hookctl serve` in another process. Each endpoint answers at /HOST/PATH of its url (see
 * harness/mock-server.ts); one line per call and resume callback goes to stderr. Runs until
 * SIGINT/SIGTERM.
 */
export function registerMock(program: Command): Command {
  const mock = program.command('mock').description('simulated webhook endpoints for a server in another process');
  const serve = mock
    .command('serve')
    .description('serve the endpoints of a scenario file or of every scenario in a folder on a real HTTP port, each at /HOST/PATH of its url')
    .argument('<scenarios>', 'scenario file or folder')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0: any free port; the URL is printed)', '0')
    .option('--callback-base <url>', 'URL of the server running the requests: resume callbacks POST to it + the reply-to header')
    .addHelpText(
      'after',
      `
An endpoint with url https://identity.example.com/hooks/privacy answers at
http://127.0.0.1:PORT/identity.example.com/hooks/privacy: point the connection's secrets.url there.
A path no endpoint declares gets 404 with the closest declared url. The scenarios' requests and
expectations are not used.

Admin API (no auth):
  GET    /__hookctl/requests          everything received (headers, reply-to-token included)
  DELETE /__hookctl/requests          clear it
  POST   /__hookctl/resume/REQUEST_ID resume REQUEST_ID with the latest reply-to-token it was sent;
                                      body {} or {"derived_identity": {...}}; needs --callback-base`,
    )
    .action(async (file: string, flags: MockServeFlags, cmd: Command) => {
      const g = globalOptions(cmd);
      const port = parsePort(flags.port);
      if (flags.callbackBase !== undefined && !/^https?:\/\/[^/]/.test(flags.callbackBase)) {
        throw new HookctlError(`--callback-base '${flags.callbackBase}' is not an http(s) URL`, ExitCode.usage, 'e.g. http://127.0.0.1:8080, where hookctl serve listens');
      }

      const { loadScenarios } = await import('../../harness/scenario.js');
      const { startMockServer, mockRoutes, DuplicateEndpointError } = await import('../../harness/mock-server.js');
      const { formatDiagnostics } = await import('../manifest/diagnostics.js');
      const loaded = await loadScenarios([file], process.cwd());
      noteSkipped(loaded.skipped, g);
      const scenarios = loaded.scenarios;
      const problems = loaded.diagnostics;
      if (problems.length > 0) process.stderr.write(`${formatDiagnostics(problems, 'text', { color: g.stderrColor, sources: loaded.sources })}\n`);
      if (problems.some((d) => d.severity === 'error')) throw new HookctlError('the scenarios are invalid; nothing is served', ExitCode.invalid);
      if (scenarios.length === 0) throw new HookctlError(`${file} holds no scenario`, ExitCode.invalid);
      try {
        mockRoutes(scenarios);
      } catch (error) {
        if (error instanceof DuplicateEndpointError) throw new HookctlError(error.message, ExitCode.invalid, 'serve them separately, on two ports');
        throw error;
      }
      const answers = scenarios.flatMap((s) => s.endpoints.flatMap((e) => [e.answer, ...e.times]));
      if (!flags.callbackBase && answers.some((a) => a.resume)) {
        const sender = scenarios.find((s) => s.endpoints.some((e) => [e.answer, ...e.times].some((a) => a.resume)))!;
        throw new HookctlError(
          `scenario '${sender.name}' sends resume callbacks, and there is nowhere to send them`,
          ExitCode.usage,
          'give --callback-base with the URL of the hookctl serve that runs the requests, e.g. http://127.0.0.1:8080',
        );
      }
      if (answers.some((a) => a.resume?.token === 'expired')) {
        process.stderr.write("warning: resumes with `token: expired` need the engine's key, which only hookctl simulate has: they are not sent\n");
      }

      const server = await startMockServer(scenarios, {
        host: flags.host,
        port,
        callbackBase: flags.callbackBase,
        log: (line) => process.stderr.write(`${line}\n`),
      }).catch((err: unknown) => {
        throw listenError(err, flags.host, port);
      });
      const what = scenarios.length === 1 ? `scenario '${scenarios[0]!.name}'` : `${scenarios.length} scenarios`;
      const lines = [`hookctl mock serve: ${what} listening on ${server.url}`];
      for (const route of server.routes) lines.push(`  ${route.method} ${server.url}${route.path}  ← ${route.url}`);
      lines.push(`  admin: ${server.url}/__hookctl/requests, POST ${server.url}/__hookctl/resume/REQUEST_ID`);
      process.stdout.write(`${lines.join('\n')}\n`);

      await shutdownSignal();
      await server.close();
    });
  // main.ts adds the global options to the command returned; the subcommand needs them too.
  addGlobalOptions(serve).exitOverride();
  return mock;
}
