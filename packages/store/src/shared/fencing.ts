import {
  completeAttempt,
  isCurrentLease,
  type AttemptOutcome,
  type JobPatch,
  type JobRecord,
} from '@offload/core';
import type { StoredJob } from './job-rows.js';

/** The fencing rule: the report's lease is the job's current one and this agent holds it. */
export function holdsLease(stored: StoredJob, agentId: string, leaseId: string): boolean {
  return isCurrentLease(stored.job, leaseId) && stored.job.agentId === agentId;
}

/**
 * One reported outcome, fenced (both backends): applied through `transition` when this agent
 * holds the job's current lease; otherwise nothing changes and the job is returned as it is
 * (null for an unknown job).
 */
export function completeReported(
  stored: StoredJob | null | undefined,
  report: AttemptOutcome & { jobId: string; leaseId: string },
  agentId: string,
  now: number,
  transition: (stored: StoredJob, patch: JobPatch) => JobRecord,
): { jobId: string; ok: boolean; job: JobRecord | null } {
  if (stored == null || !holdsLease(stored, agentId, report.leaseId))
    return { jobId: report.jobId, ok: false, job: stored?.job ?? null };
  return {
    jobId: report.jobId,
    ok: true,
    job: transition(stored, completeAttempt(stored.job, report, now)),
  };
}
