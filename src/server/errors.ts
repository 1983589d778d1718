/**
 * Every error leaves the API as Fides does: `{"detail": "…"}` with the status, or 422 with the
 * list of validation problems. Nothing else (stack traces, driver messages) reaches a client;
 * unexpected errors are logged, without request bodies or headers, and answered with a bare 500.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { ExitCode, HookctlError } from '../errors.js';
import { apiError, FidesError } from '../model/errors.js';
import { RequestValidationError } from './validation.js';

/** A FidesError as the answer: its status, headers and `{"detail"}`. */
export function sendFidesError(reply: FastifyReply, err: FidesError): FastifyReply {
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.status).send({ detail: err.detail });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((_req, reply) => sendFidesError(reply, apiError('route_not_found')));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof RequestValidationError) return reply.code(422).send({ detail: err.detail });
    if (err instanceof FidesError) return sendFidesError(reply, err);
    if (err instanceof HookctlError && err.exitCode === ExitCode.locked) return sendFidesError(reply, apiError('state_busy', err.message));
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
    return reply.code(500).send({ detail: err instanceof HookctlError ? err.message : apiError('internal').detail });
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
    if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendFidesError(reply, apiError('path_parameter_too_long'));
    if (err.code === 'FST_ERR_BAD_URL') return sendFidesError(reply, apiError('bad_percent_encoding'));
    return reply.code(err.statusCode ?? 400).send({ detail: http.STATUS_CODES[err.statusCode ?? 400] ?? 'Bad Request' });
  },
  clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, detail } = apiError(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_http');
    const body = JSON.stringify({ detail });
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  },
};
