/**
 * Structured (pino) logs of `hookctl serve`, on a stream of the caller's choosing. fastify's
 * request logs carry method, URL, status and timing, never headers or bodies; the redaction
 * below is the second line of defence should anything log a header or a credential field.
 */
import type { FastifyServerOptions } from 'fastify';

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

export function serverLoggerOptions(stream: NodeJS.WritableStream, level = 'info'): FastifyServerOptions['logger'] {
  return { level, stream, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } } as FastifyServerOptions['logger'];
}
