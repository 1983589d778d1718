/**
 * Every error leaves the API as Fides does: `{"detail": "…"}` with the status, or 422 with the
 * list of validation problems. Nothing else (stack traces, driver messages) reaches a client;
 * unexpected errors are logged, without request bodies or headers, and answered with a bare 500.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { ExitCode, HookctlError } from '../errors.js';
import { FidesError } from '../model/webhook-lists.js';
import { RequestValidationError } from './validation.js';

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ detail: 'Not Found' }));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof RequestValidationError) return reply.code(422).send({ detail: err.detail });
    if (err instanceof FidesError) return reply.code(err.status).headers(err.headers ?? {}).send({ detail: err.detail });
    if (err instanceof HookctlError && err.exitCode === ExitCode.locked) {
      return reply.code(503).header('Retry-After', '1').send({ detail: `${err.message}; try again` });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      // A body that is not JSON is a validation problem of the body, as FastAPI reports it.
      return reply.code(422).send({ detail: [{ loc: ['body'], msg: 'body is not valid JSON', type: 'value_error.jsondecode' }] });
    }
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return reply.code(422).send({ detail: [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }] });
    }
    // fastify's own client errors (unsupported media type, body too large…) keep their status.
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ detail: err.message });
    }
    req.log.error({ err: { type: err.name, message: err.message, code: err.code, stack: err.stack } }, 'request failed');
    // A HookctlError's message is written for users (never secrets); anything else is a bug.
    return reply.code(500).send({ detail: err instanceof HookctlError ? err.message : 'Internal Server Error' });
  });
}

/**
 * The errors fastify answers before any route or error handler runs — a path that is not valid
 * percent-encoding, a path parameter longer than any key, a request that did not arrive within
 * the request timeout, oversized headers — in the same `{"detail"}` shape as everything else.
 */
export const FRAMEWORK_ERROR_OPTIONS: Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> = {
  frameworkErrors(err, _req, fastifyReply) {
    const reply = fastifyReply as FastifyReply;
    if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return reply.code(414).send({ detail: 'URI Too Long: a path parameter is longer than any key can be' });
    if (err.code === 'FST_ERR_BAD_URL') return reply.code(400).send({ detail: 'Bad Request: the path is not valid percent-encoding' });
    return reply.code(err.statusCode ?? 400).send({ detail: http.STATUS_CODES[err.statusCode ?? 400] ?? 'Bad Request' });
  },
  clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, detail] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout: the request and its body must arrive within the request timeout']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large']
          : [400, 'Bad Request: the request is not valid HTTP'];
    const body = JSON.stringify({ detail });
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  },
};
