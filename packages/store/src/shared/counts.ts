import { JOB_STATES, type JobState } from '@offload/protocol';

/** A count for every state, all zero: the shape countsByState and queuesList return. */
export function zeroCounts(): Record<JobState, number> {
  const counts = {} as Record<JobState, number>;
  for (const s of JOB_STATES) counts[s] = 0;
  return counts;
}
