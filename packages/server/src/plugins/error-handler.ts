import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, type FieldProblem } from '@offload/protocol';
import { fieldProblems } from './validation.js';

/**
 * Maps every error to the one wire shape `{error: {code, message, details}}` with the
 * registry's status. Bad input is 4xx with the field named; a store that cannot be reached
 * or written is 503 NOT_READY; only a bug is 500, and it is logged with the request id.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    const api = toApiError(err, request.id);
    if (api.code === 'NOT_READY' && refusesWrites(err))
      request.server.offload.storeHealth.writeFailed(err.code ?? err.message, Date.now());
    if (api.code === 'NOT_READY')
      // An outage makes one of these per request: a warning with the cause, not a stack
      // each. Only a bug (500) is logged as an error.
      request.log.warn(
        { code: (err as { code?: string }).code, cause: err.message },
        'store unavailable',
      );
    else if (api.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: api.code, message: api.message }, 'request refused');
    if (api.code === 'RATE_LIMITED') {
      const after = (api.details as { retryAfterSec?: unknown } | undefined)?.retryAfterSec;
      void reply.header('retry-after', String(typeof after === 'number' ? after : 1));
    } else if (api.code === 'NOT_READY') {
      // The store is away or the server is starting: worth another try in a second (the
      // SDK honours it; the store's breaker keeps retries cheap for the database).
      void reply.header('retry-after', '1');
    }
    return reply.status(api.status).type('application/json').send(api.toBody());
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        new ApiError(
          'NOT_FOUND',
          `no route ${request.method} ${request.url.split('?')[0]}; see /docs for the API`,
        ).toBody(),
      ),
  );
}

export function toApiError(
  err: FastifyError & { validationContext?: string },
  requestId: string,
): ApiError {
  if (err instanceof ApiError) return err;
  if (err.validation) {
    const details: FieldProblem[] = fieldProblems(
      err.validation as never,
      err.validationContext ?? 'body',
    );
    const first = details[0];
    return new ApiError(
      'VALIDATION_FAILED',
      first ? `${first.field}: ${first.message}` : 'the request is invalid',
      { details },
    );
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('VALIDATION_FAILED', `the body is not valid JSON: ${err.message}`, {
        details: [{ field: 'body', message: 'is not valid JSON' }],
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('VALIDATION_FAILED', 'the body is empty; send a JSON object', {
        details: [{ field: 'body', message: 'is empty' }],
      });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(
        'PAYLOAD_TOO_LARGE',
        'the body is over the size limit; split it into smaller requests',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('VALIDATION_FAILED', 'Content-Length does not match the body');
  }
  if (err instanceof SyntaxError)
    return new ApiError('VALIDATION_FAILED', `the body is not valid JSON: ${err.message}`);
  if (isStoreUnavailable(err))
    return new ApiError('NOT_READY', unavailableMessage(err), { cause: err });
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError('VALIDATION_FAILED', err.message);
  return new ApiError('INTERNAL', `internal error; quote request id ${requestId} to the operator`, {
    cause: err,
  });
}

/**
 * A store that answers but refuses writes (disk full, read-only, I/O errors, out of memory):
 * its `SELECT 1` ping still passes, so readiness must hear of it (StoreHealth). A lost
 * connection is not one of these: the ping sees that itself.
 */
export function refusesWrites(err: { code?: string }): boolean {
  return /^(SQLITE_(FULL|READONLY|IOERR)|53100|53200)/.test(err.code ?? '');
}

/**
 * What a client and an operator need to hear of an unavailable store: the code, and for
 * the PostgreSQL conditions that have a setting behind them, which one.
 */
function unavailableMessage(err: { code?: string; message: string }): string {
  switch (err.code) {
    case '57014':
      return 'the database canceled a statement that ran past its time limit (57014: statement timeout); retry shortly — if it persists, the database is overloaded or --store-statement-timeout is too low';
    case '53300':
      return 'the database has no free connection slots (53300: too many connections); retry shortly — if it persists, lower --store-pool-size on the servers sharing it or raise its max_connections';
    default:
      return `the store is unavailable (${err.code ?? err.message}); retry shortly`;
  }
}

/** Errors that mean "the database cannot serve now", not "this request is wrong". */
export function isStoreUnavailable(err: { code?: string; message: string }): boolean {
  const code = err.code ?? '';
  return (
    /^SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB)/.test(code) ||
    // Connection lost or refused, admin shutdown (57P0x), statement timeout or canceled query
    // (57014), too many connections or out of resources (53xxx): the database, not the request.
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|57P0|57014|53|08)/.test(code) ||
    // better-sqlite3 after close() throws a plain TypeError with no code.
    err.message === 'The database connection is not open'
  );
}
