/**
 * The one registry of API error codes: HTTP status and what the code means.
 * docs/reference/errors.md is generated from this table and a test checks the two agree.
 */
export const API_ERRORS = {
  VALIDATION_FAILED: {
    status: 400,
    description:
      'The request is malformed: a field is missing, of the wrong type, out of range or unknown. `details` lists each field and why.',
  },
  UNAUTHORIZED: {
    status: 401,
    description:
      'No credential, or one that is unknown, revoked or expired. Send `Authorization: Bearer <token>`.',
  },
  FORBIDDEN: {
    status: 403,
    description:
      'The credential is valid but of the wrong kind, lacks the scope, or is limited to other queues or capabilities.',
  },
  NOT_FOUND: { status: 404, description: 'No such route.' },
  JOB_NOT_FOUND: {
    status: 404,
    description: 'No job with that id (it may have been removed by retention).',
  },
  AGENT_NOT_FOUND: { status: 404, description: 'No agent with that id or name.' },
  KEY_NOT_FOUND: { status: 404, description: 'No API key or join token with that id.' },
  INVALID_STATE: {
    status: 409,
    description:
      'The job or agent is not in a state that allows this action (for example cancelling a finished job).',
  },
  LEASE_STALE: {
    status: 409,
    description:
      'An agent reported on a lease that is no longer current; the report changed nothing. The agent should stop that attempt.',
  },
  AGENT_NAME_TAKEN: {
    status: 409,
    description:
      'Another agent already uses that name. Choose another `--name`, or revoke the old agent first.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body is over the configured limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The body is not `application/json`.' },
  RATE_LIMITED: {
    status: 429,
    description: 'Too many requests for this credential; retry after `Retry-After` seconds.',
  },
  NOT_READY: {
    status: 503,
    description:
      'The server cannot serve this now (store unreachable or starting); retry with backoff.',
  },
  INTERNAL: {
    status: 500,
    description: 'A bug in offload. The message carries a request id to find in the server log.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** Codes a job's own `error.code` takes when an attempt or the job fails. */
export const JOB_ERRORS = {
  EXIT_NONZERO: 'The command exited with a non-zero code.',
  KILLED_BY_SIGNAL:
    'The command was killed by a signal it did not expect (not a cancel or timeout).',
  TIMEOUT: 'The attempt ran longer than `timeoutSec`; its process tree was killed.',
  SPAWN_FAILED: 'The command could not be started (not found, not executable, bad `cwd`).',
  TASK_FAILED: 'The task handler threw; the message is the error it threw.',
  NO_HANDLER: 'The agent has no handler for the task name.',
  AGENT_LOST:
    'The agent stopped heartbeating for longer than the lease timeout and no attempts were left.',
  CANCELED: 'The job was canceled.',
  EXPIRED: 'The job was not started within `expireAfterSec`.',
} as const;

export type JobErrorCode = keyof typeof JOB_ERRORS;
export const JOB_ERROR_CODES = Object.keys(JOB_ERRORS) as JobErrorCode[];
