import { API_ERRORS, type ApiErrorCode } from './error-codes.js';

/** One field-level problem inside a VALIDATION_FAILED error. `field` is a JSON pointer. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The body of every error response: `{ error: { code, message, details? } }`. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; details?: unknown };
}

/**
 * An error that maps to one registry code and its HTTP status. Thrown by the core,
 * the store and the server alike; the server's error handler turns it into the wire shape.
 */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(
    code: ApiErrorCode,
    message: string,
    options: { details?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.details = options.details;
  }

  toBody(): ApiErrorBody {
    return this.details === undefined
      ? { error: { code: this.code, message: this.message } }
      : { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** A VALIDATION_FAILED error naming one field. */
export function invalidField(field: string, message: string): ApiError {
  return new ApiError('VALIDATION_FAILED', `${field}: ${message}`, {
    details: [{ field, message } satisfies FieldProblem],
  });
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
