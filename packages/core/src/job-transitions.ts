import { ApiError, TERMINAL_STATES, type JobState } from '@offload/protocol';
import { backoffDelayMs } from './backoff.js';
import type { JobError, JobPatch, JobRecord, Progress, Usage } from './records.js';

/**
 * The job state machine (SPEC §1). Every transition is a pure function from a job and
 * the time to the patch a store applies; a transition the table does not allow throws
 * INVALID_STATE. Stores call these inside their transaction, so both backends share one
 * set of rules.
 */
export const JOB_TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  scheduled: ['queued', 'canceled', 'expired'],
  queued: ['running', 'canceled', 'expired'],
  running: ['succeeded', 'failed', 'canceled', 'scheduled', 'queued'],
  succeeded: ['queued'],
  failed: ['queued'],
  canceled: ['queued'],
  expired: ['queued'],
};

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

function refuse(job: JobRecord, action: string): never {
  throw new ApiError('INVALID_STATE', `job ${job.id} is ${job.state}; cannot ${action}`, {
    details: { jobId: job.id, state: job.state },
  });
}

function require(job: JobRecord, action: string, ...states: JobState[]): void {
  if (!states.includes(job.state)) refuse(job, action);
}

const CLEARED_LEASE = { leaseId: null, gpus: [] } satisfies JobPatch;

/** scheduled → queued, once `runAt` is reached (also the end of a retry backoff). */
export function promoteJob(job: JobRecord, now: number): JobPatch {
  require(job, 'promote', 'scheduled');
  if (job.runAt !== null && job.runAt > now)
    refuse(job, `promote before its time (${new Date(job.runAt).toISOString()})`);
  return { state: 'queued', runAt: null, queuedAt: now };
}

/** queued → running: a claim by an agent creates lease `leaseId`. */
export function claimJob(
  job: JobRecord,
  claim: { leaseId: string; agentId: string; agentName: string; gpus: number[]; now: number },
): JobPatch {
  require(job, 'claim', 'queued');
  const patch: JobPatch = {
    state: 'running',
    leaseId: claim.leaseId,
    agentId: claim.agentId,
    agentName: claim.agentName,
    gpus: claim.gpus,
    startedAt: claim.now,
  };
  // What an earlier attempt left is cleared only when there is some: a first attempt has
  // none, and the six more columns (finished_at indexed) cost SQLite's claim UPDATE ~0.9 µs
  // a job of ~7.9 (raw UPDATEs by seq, batches of 500, 60k jobs).
  return hasLastOutcome(job) ? { ...patch, ...CLEARED_OUTCOME } : patch;
}

/** The outcome fields a claim clears, left by an earlier attempt (a retry or a handback). */
const CLEARED_OUTCOME = {
  finishedAt: null,
  exitCode: null,
  signal: null,
  error: null,
  progress: null,
  usage: null,
} satisfies JobPatch;

function hasLastOutcome(job: JobRecord): boolean {
  return (
    job.finishedAt !== null ||
    job.exitCode !== null ||
    job.signal !== null ||
    job.error !== null ||
    job.progress !== null ||
    job.usage !== null
  );
}

/** The outcome an agent reports for the current lease. */
export interface AttemptOutcome {
  outcome: 'succeeded' | 'failed' | 'handback';
  exitCode?: number | undefined;
  signal?: string | undefined;
  result?: unknown;
  error?: JobError | undefined;
  usage?: Usage | undefined;
}

/** True when the lease named in a report is the job's current one. */
export function isCurrentLease(job: JobRecord, leaseId: string): boolean {
  return job.state === 'running' && job.leaseId === leaseId;
}

/**
 * running → succeeded | failed | scheduled (retry after backoff) | queued (handback) | canceled.
 * The caller has checked the lease (isCurrentLease). A failure after a cancel request is the
 * cancel taking effect; a failure with attempts left is retried as attempt + 1.
 */
export function completeAttempt(job: JobRecord, report: AttemptOutcome, now: number): JobPatch {
  require(job, 'complete an attempt', 'running');
  if (report.outcome === 'succeeded') {
    // The common case as one literal, with the keys in the order the spreads below give.
    // Built through two spreads, a SQLite completion cost ~19.8 µs a job; as a literal
    // ~16.6 µs (store micro-benchmark, 50 completions per call, 2-vCPU VM).
    return {
      leaseId: null,
      gpus: [],
      exitCode: report.exitCode ?? null,
      signal: report.signal ?? null,
      usage: report.usage ?? null,
      state: 'succeeded',
      result: report.result,
      error: null,
      finishedAt: now,
      progress: finishedProgress(job.progress),
    };
  }
  const facts: JobPatch = {
    ...CLEARED_LEASE,
    exitCode: report.exitCode ?? null,
    signal: report.signal ?? null,
    usage: report.usage ?? null,
  };
  if (report.outcome === 'handback') {
    if (job.cancelRequested) return { ...facts, ...canceled(now) };
    // Drain hands a job back without burning its attempt.
    return { ...CLEARED_LEASE, state: 'queued', queuedAt: now, startedAt: null, progress: null };
  }
  const error: JobError = report.error ?? { code: 'EXIT_NONZERO', message: 'the attempt failed' };
  if (job.cancelRequested || error.code === 'CANCELED') return { ...facts, ...canceled(now) };
  return { ...facts, ...failOrRetry(job, error, now) };
}

/** running → scheduled | failed: the agent holding the lease was lost (lease expired or agent revoked). */
export function loseAttempt(
  job: JobRecord,
  now: number,
  message = 'the agent stopped heartbeating',
): JobPatch {
  require(job, 'reap a lost attempt', 'running');
  if (job.cancelRequested) return { ...CLEARED_LEASE, ...canceled(now) };
  return { ...CLEARED_LEASE, ...failOrRetry(job, { code: 'AGENT_LOST', message }, now) };
}

/** running → scheduled | failed: the server-side backstop when an attempt outlives its timeout. */
export function timeoutAttempt(job: JobRecord, now: number): JobPatch {
  require(job, 'time out', 'running');
  // As for a lost agent: a cancel already asked for wins over a retry.
  if (job.cancelRequested) return { ...CLEARED_LEASE, ...canceled(now) };
  return {
    ...CLEARED_LEASE,
    ...failOrRetry(
      job,
      { code: 'TIMEOUT', message: `ran longer than timeoutSec (${job.timeoutSec} s)` },
      now,
    ),
  };
}

function failOrRetry(job: JobRecord, error: JobError, now: number): JobPatch {
  if (job.attempt < job.maxAttempts) {
    // startedAt is the current attempt's start; the next attempt has not started.
    return {
      state: 'scheduled',
      attempt: job.attempt + 1,
      runAt: now + backoffDelayMs(job.backoff, job.attempt),
      error,
      startedAt: null,
      finishedAt: null,
    };
  }
  return { state: 'failed', error, finishedAt: now };
}

function canceled(now: number): JobPatch {
  // runAt means "due to be queued" and only holds while scheduled.
  return {
    state: 'canceled',
    error: { code: 'CANCELED', message: 'canceled' },
    finishedAt: now,
    cancelRequested: true,
    runAt: null,
  };
}

function finishedProgress(p: Progress | null): Progress | null {
  return p === null ? null : { ...p, percent: 100 };
}

/**
 * Cancel. scheduled/queued → canceled at once; running → cancelRequested (the agent kills the
 * tree and reports, or the lease expires), `immediate: false`; terminal → INVALID_STATE.
 */
export function cancelJob(job: JobRecord, now: number): { patch: JobPatch; immediate: boolean } {
  if (job.state === 'scheduled' || job.state === 'queued')
    return { patch: canceled(now), immediate: true };
  if (job.state === 'running') return { patch: { cancelRequested: true }, immediate: false };
  refuse(job, 'cancel a finished job');
}

/** scheduled/queued → expired when `expireAt` passed before it started. */
export function expireJob(job: JobRecord, now: number): JobPatch {
  require(job, 'expire', 'scheduled', 'queued');
  if (job.expireAt === null || job.expireAt > now) refuse(job, 'expire before its expiry time');
  return {
    state: 'expired',
    error: { code: 'EXPIRED', message: 'not started before its expireAfterSec' },
    finishedAt: now,
    runAt: null,
  };
}

/**
 * terminal → queued as a new attempt. A manual retry grants this one attempt even past
 * `maxAttempts`; automatic retries after it happen only while attempt < maxAttempts.
 * It also drops `expireAt`: the deadline was set at submit, and keeping one that has
 * passed would expire the retried job again at the next sweep.
 */
export function retryJob(job: JobRecord, now: number): JobPatch {
  if (!isTerminal(job.state)) refuse(job, 'retry a job that has not finished');
  return {
    state: 'queued',
    // A job canceled or expired before its attempt started gets that attempt, not a new one.
    attempt: job.startedAt === null ? job.attempt : job.attempt + 1,
    queuedAt: now,
    runAt: null,
    expireAt: null,
    cancelRequested: false,
    ...CLEARED_LEASE,
    agentId: null,
    agentName: null,
    exitCode: null,
    signal: null,
    result: undefined,
    error: null,
    progress: null,
    usage: null,
    startedAt: null,
    finishedAt: null,
  };
}

/** Progress from the current lease's agent; only while running. */
export function progressJob(job: JobRecord, progress: Progress): JobPatch {
  require(job, 'report progress', 'running');
  return { progress: { ...job.progress, ...progress } };
}

/** Applies a patch: what stores do after a transition, and what tests check against. */
export function applyPatch(job: JobRecord, patch: JobPatch): JobRecord {
  return { ...job, ...patch };
}
