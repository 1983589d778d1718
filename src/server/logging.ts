/**
 * Structured (pino) logs of `hookctl serve`, on a stream of the caller's choosing: JSON lines,
 * or pino-pretty's lines for a person at a terminal. fastify's request logs carry method, URL,
 * status and timing, never headers or bodies; the worker's carry ids, keys, outcomes and
 * timings, never an identity. The redaction below is the second line of defence should
 * anything log a header or a credential field.
 */
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import PinoPretty from 'pino-pretty';
import type { ExecutionObserver } from '../engine/observer.js';
import type { LogFormat, LogLevel } from './log-settings.js';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["reply-to-token"]',
  'req.headers.cookie',
  '*.authorization',
  '*.client_secret',
  '*.access_token',
  '*.token',
  '*.secrets',
];


export interface LogSettings {
  level?: LogLevel;
  format?: LogFormat;
  /** Pretty lines only: colour them (a terminal that wants colours). */
  colorize?: boolean;
}

export function serverLoggerOptions(stream: NodeJS.WritableStream, { level = 'info', format = 'json', colorize = false }: LogSettings = {}): FastifyServerOptions['logger'] {
  const destination =
    format === 'json'
      ? stream
      : PinoPretty({
          destination: stream,
          colorize,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        });
  return { level, stream: destination, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } } as FastifyServerOptions['logger'];
}

/**
 * The worker's reports as log lines: one per request transition and per webhook call. A request
 * that fails, and a call that fails, are warnings; the rest is info.
 */
export function workerLogObserver(logger: FastifyBaseLogger): ExecutionObserver {
  const log = logger.child({ component: 'worker' });
  return {
    transition: ({ request_id, policy_key, event, status, step, failure_reason }) => {
      const fields = { request_id, policy_key, event, status, step, ...(failure_reason !== null && { failure_reason }) };
      if (status === 'error') log.warn(fields, `privacy request ${event}`);
      else log.info(fields, `privacy request ${event}`);
    },
    webhookCall: ({ request_id, webhook_key, callback_type, outcome, status_code, duration_ms }) => {
      const fields = { request_id, webhook_key, callback_type, outcome, status_code, duration_ms };
      if (outcome === 'error') log.warn(fields, `webhook call ${outcome}`);
      else log.info(fields, `webhook call ${outcome}`);
    },
  };
}
