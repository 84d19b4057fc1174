import { API_ERRORS, type ApiErrorCode, type Job } from '@offload/protocol';

/**
 * The root of every error the SDK throws, so one `instanceof OffloadError` catches them all.
 * The underlying error, when there is one, is always kept as `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await off.get('job_missing');
 * } catch (err) {
 *   if (err instanceof OffloadError) console.error(err.name, err.message);
 *   else throw err;
 * }
 * ```
 */
export class OffloadError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
  }
}

/** A code the server may send: one of the registry's, or a newer one this SDK does not know yet. */
export type ApiErrorCodeLike = ApiErrorCode | (string & {});

/**
 * The server answered with an error (`{error: {code, message, details}}`). `code` is the
 * registry code (`JOB_NOT_FOUND`, `FORBIDDEN`, ...), `status` the HTTP status, `details` the
 * per-field problems of a `VALIDATION_FAILED`. Each registry code also has its own subclass in
 * {@link ApiErrorClasses}, made from `API_ERRORS`, so a new code needs no SDK change.
 *
 * @example
 * ```ts
 * try {
 *   await off.cancel('job_123');
 * } catch (err) {
 *   if (err instanceof OffloadApiError && err.code === 'INVALID_STATE') {
 *     console.log('already finished');
 *   } else throw err;
 * }
 * ```
 */
export class OffloadApiError<C extends ApiErrorCodeLike = ApiErrorCodeLike> extends OffloadError {
  readonly code: C;
  readonly status: number;
  readonly details: unknown;
  /** The server's request id, when it sent one (`x-request-id`); quote it to the operator. */
  readonly requestId: string | undefined;

  constructor(init: {
    code: C;
    status: number;
    message: string;
    details?: unknown;
    requestId?: string | undefined;
    cause?: unknown;
  }) {
    super(init.message, 'cause' in init ? { cause: init.cause } : {});
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.requestId = init.requestId;
  }

  /**
   * Whether `err` is an API error with this code; narrows `err` to it.
   *
   * @example
   * ```ts
   * try {
   *   await off.get('job_123');
   * } catch (err) {
   *   if (OffloadApiError.is(err, 'JOB_NOT_FOUND')) console.log(err.status); // 404
   *   else throw err;
   * }
   * ```
   */
  static is<C extends ApiErrorCodeLike>(err: unknown, code: C): err is OffloadApiError<C> {
    return err instanceof OffloadApiError && err.code === code;
  }
}

/** The class of one registry code: `new` it like {@link OffloadApiError}, test it with `instanceof`. */
export type ApiErrorClass<C extends ApiErrorCode> = new (init: {
  code?: C;
  status: number;
  message: string;
  details?: unknown;
  requestId?: string | undefined;
  cause?: unknown;
}) => OffloadApiError<C>;

/** `JOB_NOT_FOUND` → `JobNotFoundError`. */
function className(code: string): string {
  const camel = code
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return `${camel}Error`;
}

function makeClass<C extends ApiErrorCode>(code: C): ApiErrorClass<C> {
  const name = className(code);
  const cls = class extends OffloadApiError<C> {
    constructor(init: ConstructorParameters<ApiErrorClass<C>>[0]) {
      super({ ...init, code });
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/**
 * One subclass of {@link OffloadApiError} per code in the protocol's `API_ERRORS` registry,
 * named after it (`JOB_NOT_FOUND` → `JobNotFoundError`). Errors the SDK throws for a known
 * code are instances of these.
 *
 * @example
 * ```ts
 * try {
 *   await off.get('job_123');
 * } catch (err) {
 *   if (err instanceof ApiErrorClasses.JOB_NOT_FOUND) console.log('no such job');
 *   else if (err instanceof ApiErrorClasses.UNAUTHORIZED) console.log('check OFFLOAD_API_KEY');
 *   else throw err;
 * }
 * ```
 */
export const ApiErrorClasses = Object.freeze(
  Object.fromEntries(
    (Object.keys(API_ERRORS) as ApiErrorCode[]).map((code) => [code, makeClass(code)]),
  ),
) as { readonly [C in ApiErrorCode]: ApiErrorClass<C> };

/**
 * Builds the error for a server answer: the registry code's subclass when the code is known,
 * else a plain {@link OffloadApiError}.
 */
export function apiError(init: {
  code: string;
  status: number;
  message: string;
  details?: unknown;
  requestId?: string | undefined;
}): OffloadApiError {
  if (!Object.hasOwn(ApiErrorClasses, init.code)) return new OffloadApiError(init);
  const cls = ApiErrorClasses[init.code as ApiErrorCode] as ApiErrorClass<ApiErrorCode>;
  return new cls({ ...init, code: init.code as ApiErrorCode });
}

/**
 * The server could not be reached (connection refused, DNS failure, connection reset) after
 * the retries the call allows. The message names the URL; `cause` is the transport's error.
 *
 * @example
 * ```ts
 * try {
 *   await off.health();
 * } catch (err) {
 *   if (err instanceof OffloadNetworkError) console.error(`${err.url} is down (${err.attempts} tries)`);
 *   else throw err;
 * }
 * ```
 */
export class OffloadNetworkError extends OffloadError {
  /** The server URL the client was given. */
  readonly url: string;
  /** How many times the request was tried. */
  readonly attempts: number;

  constructor(url: string, attempts: number, cause: unknown) {
    const why = describeCause(cause);
    super(
      `cannot reach the offload server at ${url}${why ? ` (${why})` : ''}` +
        `${attempts > 1 ? ` after ${attempts} attempts` : ''}; check that it is running and that the URL is right`,
      { cause },
    );
    this.url = url;
    this.attempts = attempts;
  }
}

/**
 * A request, or a whole wait, took longer than allowed. For {@link Offload.wait} and
 * {@link Offload.run}, `job` is the job as last seen (not terminal yet).
 *
 * @example
 * ```ts
 * try {
 *   await off.wait('job_123', { timeoutSec: 5 });
 * } catch (err) {
 *   if (err instanceof OffloadTimeoutError) console.log('still', err.job?.state);
 *   else throw err;
 * }
 * ```
 */
export class OffloadTimeoutError extends OffloadError {
  readonly timeoutMs: number;
  readonly job: Job | undefined;

  constructor(message: string, timeoutMs: number, options: { cause?: unknown; job?: Job } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : {});
    this.timeoutMs = timeoutMs;
    this.job = options.job;
  }
}

/**
 * {@link Offload.run} waited for a job that ended `failed`, `canceled` or `expired`. `job` is
 * the terminal job (its `error`, `exitCode`, `state`); `code` is its `error.code`.
 *
 * @example
 * ```ts
 * try {
 *   await off.run({ command: ['false'] });
 * } catch (err) {
 *   if (err instanceof JobFailedError) console.log(err.job.state, err.code, err.job.exitCode);
 *   else throw err;
 * }
 * ```
 */
export class JobFailedError extends OffloadError {
  readonly job: Job;
  readonly code: string | undefined;

  constructor(job: Job) {
    const why = job.error ? `${job.error.code}: ${job.error.message}` : job.state;
    super(`job ${job.id} (${job.name}) ended ${job.state}: ${why}`);
    this.job = job;
    this.code = job.error?.code;
  }
}

/** A short reason from a transport error: its code and message, looking through `cause`s. */
function describeCause(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    const text = e.message || (typeof code === 'string' ? code : '');
    if (text && !parts.includes(text) && text !== 'fetch failed') parts.push(text);
    e = e.cause ?? (e instanceof AggregateError ? e.errors[0] : undefined);
  }
  return parts.join(': ');
}
