import { Command, Option } from 'commander';
import { ExitCode, HookctlError } from '../errors.js';
import { globalOptions } from './context.js';
import { DURATIONS, durationOption, listenError, parseDuration, parseInteger, parseOptionalDuration, parsePort, shutdownSignal } from './flags.js';
import { UNIT_MS } from '../durations.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../server/log-settings.js';

interface ServeFlags {
  host: string;
  port: string;
  publicUrl?: string;
  concurrency: string;
  webhookTimeout?: string;
  resumeTimeout?: string;
  workerLease?: string;
  requestTimeout: string;
  logLevel: LogLevel;
  logFormat?: LogFormat;
}

/**
 * `hookctl serve`: the HTTP API and the execution worker on one state. fastify, the engine and
 * the database drivers are imported inside the action, so other commands never load them.
 */
export function registerServe(program: Command): Command {
  return program
    .command('serve')
    .description('run the Fides-compatible HTTP API and the privacy-request worker')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0: any free port)', '8080')
    .option('--public-url <url>', 'the URL clients reach this server at: resume_endpoint in privacy requests is given under it')
    .option('--concurrency <n>', 'privacy requests executed at once by this process', '16')
    .addOption(durationOption(DURATIONS.webhookTimeout, 'timeout of one webhook call: 500ms, 30s; a bare number is ms (default 30s)'))
    .addOption(durationOption(DURATIONS.resumeTimeout, 'reply-to token lifetime; a paused request errors after it: 30m, 60h; a bare number is minutes (default 3600)'))
    .option('--request-timeout <duration>', 'an API request and its body must arrive within this, else 408 and the connection is closed; a bare number is seconds', '30s')
    .addOption(
      durationOption(
        DURATIONS.workerLease,
        'how long a request claimed by this process stays its own without renewal (renewed every third of it); after a crash, other serve processes take its requests over once it passes (default 30000)',
      ),
    )
    .addOption(new Option('--log-level <level>', 'least severe log lines written to stderr').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log-format <format>', 'json lines, or pretty for people (default: pretty when stderr is a terminal, else json)').choices(LOG_FORMATS))
    .action(async (flags: ServeFlags, cmd: Command) => {
      const settings = parseServeFlags(flags);
      const { openDatabase, parseDatabaseUrl } = await import('../state/database.js');
      const { loadMasterKey } = await import('../state/keys.js');
      const { buildServer } = await import('../server/app.js');
      const { rootClientFromEnv } = await import('../server/auth.js');
      const { serverLoggerOptions, workerLogObserver } = await import('../server/logging.js');
      const { Worker } = await import('../engine/worker.js');
      const { observers } = await import('../engine/observer.js');

      const location = parseDatabaseUrl(globalOptions(cmd).databaseUrl, process.cwd());
      const keys = loadMasterKey(location);
      const db = await openDatabase(location);
      const app = await buildServer({
        db,
        keys,
        logger: serverLoggerOptions(process.stderr, {
          level: flags.logLevel,
          format: flags.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json'),
          colorize: (cmd.optsWithGlobals() as { color?: boolean }).color !== false && !process.env.NO_COLOR && process.stderr.isTTY === true,
        }),
        rootClient: rootClientFromEnv(),
        publicUrl: settings.publicUrl,
        requestTimeoutMs: settings.requestTimeoutMs,
      });
      const worker = new Worker(db, keys, {
        concurrency: settings.concurrency,
        webhookTimeoutMs: settings.webhookTimeoutMs,
        resumeTimeoutMinutes: settings.resumeTimeoutMinutes,
        leaseMs: settings.leaseMs,
        log: (message) => app.log.error(message),
        observer: observers(app.metrics.observer, workerLogObserver(app.log)),
      });
      try {
        await app.listen({ host: settings.host, port: settings.port });
      } catch (err) {
        await app.close();
        await db.close();
        throw listenError(err, settings.host, settings.port);
      }
      worker.start();
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : settings.port;
      const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
      app.log.info({ public_url: settings.publicUrl ?? null, concurrency: settings.concurrency, worker: worker.owner }, 'serving');
      const reachedAt = settings.publicUrl === undefined ? '' : `, public URL ${settings.publicUrl}`;
      process.stdout.write(`hookctl serve listening on http://${host}:${port} (state: ${db.displayUrl})${reachedAt}\n`);

      const signal = await shutdownSignal();
      app.log.info({ signal }, 'shutting down: no new requests; running webhook calls finish');
      await app.close();
      await worker.stop({ graceMs: SHUTDOWN_GRACE_MS });
      await db.close();
    });
}

/** How long in-flight webhook calls may take after a shutdown signal; the rest resume elsewhere. */
const SHUTDOWN_GRACE_MS = 10_000;

interface ServeSettings {
  host: string;
  port: number;
  publicUrl?: string;
  concurrency: number;
  webhookTimeoutMs?: number;
  resumeTimeoutMinutes?: number;
  leaseMs?: number;
  requestTimeoutMs: number;
}

function parseServeFlags(flags: ServeFlags): ServeSettings {
  const resumeMs = parseOptionalDuration(flags.resumeTimeout, DURATIONS.resumeTimeout);
  return {
    host: flags.host,
    port: parsePort(flags.port),
    publicUrl: flags.publicUrl === undefined ? undefined : parsePublicUrl(flags.publicUrl),
    concurrency: parseInteger(flags.concurrency, '--concurrency', 1, 10_000),
    webhookTimeoutMs: parseOptionalDuration(flags.webhookTimeout, DURATIONS.webhookTimeout),
    resumeTimeoutMinutes: resumeMs === undefined ? undefined : resumeMs / UNIT_MS.m,
    leaseMs: parseOptionalDuration(flags.workerLease, DURATIONS.workerLease),
    requestTimeoutMs: parseDuration(flags.requestTimeout, DURATIONS.requestTimeout),
  };
}

/** An http(s) base URL, possibly with a path (a reverse proxy's mount point); no trailing slash. */
function parsePublicUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || url.username || url.password) {
    throw usage(`--public-url '${text}' is not an http(s) base URL`, 'write it like https://hooks.example.com or https://example.com/hookctl');
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

function usage(message: string, hint?: string): HookctlError {
  return new HookctlError(message, ExitCode.usage, hint);
}
