import { JOB_STATES, TERMINAL_STATES, type Job, type JobState } from '@offload/client/browser';

export { JOB_STATES };
export const TERMINAL: ReadonlySet<JobState> = new Set(TERMINAL_STATES);

export function isTerminal(job: Pick<Job, 'state'>): boolean {
  return TERMINAL.has(job.state);
}
export function canCancel(job: Pick<Job, 'state'>): boolean {
  return !TERMINAL.has(job.state);
}
export function canRetry(job: Pick<Job, 'state'>): boolean {
  return TERMINAL.has(job.state);
}
