import { isCurrentLease } from '@offload/core';
import type { StoredJob } from './job-rows.js';

/** The fencing rule: the report's lease is the job's current one and this agent holds it. */
export function holdsLease(stored: StoredJob, agentId: string, leaseId: string): boolean {
  return isCurrentLease(stored.job, leaseId) && stored.job.agentId === agentId;
}
