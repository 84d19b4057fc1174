import type { JobErrorCode, AttemptOutcomeName } from '@offload/protocol';
import type { JobPatch, JobRecord } from '@offload/core';
import type { AttemptRecord } from '../store.js';
import type { StoredJob } from './job-rows.js';

/**
 * How the attempt that `before` was running ended, read from the job after the transition
 * (both backends): the new state, and for a failure the error code core gave it.
 */
function outcomeOf(after: JobRecord): AttemptOutcomeName {
  switch (after.state) {
    case 'succeeded':
      return 'succeeded';
    case 'canceled':
      return 'canceled';
    case 'queued':
      return 'handed-back';
    default:
      // failed, or scheduled for the next attempt after a backoff
      if (after.error?.code === 'TIMEOUT') return 'timed-out';
      if (after.error?.code === 'AGENT_LOST') return 'agent-lost';
      return 'failed';
  }
}

/**
 * The attempt a transition ended, or null when it ended none: `before` ran under a lease
 * that `after` no longer holds. Every way out of `running` goes through here, so an attempt
 * gets exactly one record, written with the transition that ended it.
 */
export function endedAttempt(
  before: JobRecord,
  after: JobRecord,
  now: number,
): AttemptRecord | null {
  if (before.state !== 'running' || before.leaseId === null) return null;
  if (after.state === 'running' && after.leaseId === before.leaseId) return null;
  const handedBack = after.state === 'queued';
  return {
    jobId: before.id,
    attempt: before.attempt,
    agentId: before.agentId ?? '',
    agentName: before.agentName ?? '',
    leaseId: before.leaseId,
    startedAt: before.startedAt ?? now,
    endedAt: now,
    outcome: outcomeOf(after),
    // A hand-back clears nothing it reports: the job keeps the previous run's facts.
    exitCode: handedBack ? null : after.exitCode,
    signal: handedBack ? null : after.signal,
    error: handedBack ? null : after.error,
  };
}

/** The attempt running now, from the job row itself (it has no record until it ends). */
export function runningAttempt(job: JobRecord): AttemptRecord | null {
  if (job.state !== 'running' || job.leaseId === null) return null;
  return {
    jobId: job.id,
    attempt: job.attempt,
    agentId: job.agentId ?? '',
    agentName: job.agentName ?? '',
    leaseId: job.leaseId,
    startedAt: job.startedAt ?? job.createdAt,
    endedAt: null,
    outcome: 'running',
    exitCode: null,
    signal: null,
    error: null,
  };
}

/**
 * The ended records, then the running attempt unless a record for its lease is already
 * there (a reader that saw the job running before a concurrent commit ended it).
 */
export function withRunning(ended: AttemptRecord[], job: JobRecord): AttemptRecord[] {
  const running = runningAttempt(job);
  if (running === null || ended.some((a) => a.leaseId === running.leaseId)) return ended;
  return [...ended, running];
}

/**
 * The attempts a transaction ends, collected as its transitions run and written together
 * before it commits (PostgreSQL: one INSERT for all of them; SQLite: a prepared INSERT
 * each, cheaper in-process than one statement over a JSON array).
 */
export class EndedAttempts {
  readonly rows: Array<{ jobSeq: number; attempt: AttemptRecord }> = [];

  /** Applies `patch` through `transition`, noting the attempt it ends. */
  transition(
    stored: StoredJob,
    patch: JobPatch,
    now: number,
    transition: (stored: StoredJob, patch: JobPatch) => JobRecord,
  ): JobRecord {
    const before = stored.job;
    const seq = stored.seq;
    const after = transition(stored, patch);
    const attempt = endedAttempt(before, after, now);
    if (attempt !== null) this.rows.push({ jobSeq: seq, attempt });
    return after;
  }
}

/** job_attempts columns as both backends store them, in the order of AttemptRow. */
export const ATTEMPT_COLUMNS =
  'attempt, agent_id, agent_name, lease_id, started_at, ended_at, outcome, exit_code, signal, error_code, error_message';

export type AttemptRow = [
  attempt: number,
  agentId: string,
  agentName: string,
  leaseId: string,
  startedAt: number,
  endedAt: number,
  outcome: string,
  exitCode: number | null,
  signal: string | null,
  errorCode: string | null,
  errorMessage: string | null,
];

/** A record as a row of ATTEMPT_COLUMNS (after job_seq). */
export function attemptRow(a: AttemptRecord): AttemptRow {
  return [
    a.attempt,
    a.agentId,
    a.agentName,
    a.leaseId,
    a.startedAt,
    a.endedAt ?? a.startedAt,
    a.outcome,
    a.exitCode,
    a.signal,
    a.error?.code ?? null,
    a.error?.message ?? null,
  ];
}

export function rowToAttempt(jobId: string, r: AttemptRow): AttemptRecord {
  const [attempt, agentId, agentName, leaseId, startedAt, endedAt, outcome] = r;
  return {
    jobId,
    attempt,
    agentId,
    agentName,
    leaseId,
    startedAt,
    endedAt,
    outcome: outcome as AttemptOutcomeName,
    exitCode: r[7],
    signal: r[8],
    error: r[9] === null ? null : { code: r[9] as JobErrorCode, message: r[10] ?? '' },
  };
}
