/**
 * Every error leaves the API as Fides does: `{"detail": "…"}` with the status, or 422 with the
 * list of validation problems. Nothing else (stack traces, driver messages) reaches a client;
 * unexpected errors are logged, without request bodies or headers, and answered with a bare 500.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { ExitCode, HookctlError } from '../errors.js';
import { FidesError } from '../model/webhook-lists.js';
import { RequestValidationError } from './validation.js';

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ detail: 'Not Found' }));

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof RequestValidationError) return reply.code(422).send({ detail: err.detail });
    if (err instanceof FidesError) return reply.code(err.status).send({ detail: err.detail });
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
