import type { Job, JobState } from '@offload/client/browser';

export const JOB_STATES: readonly JobState[] = [
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'failed',
  'canceled',
  'expired',
];
export const TERMINAL: ReadonlySet<JobState> = new Set([
  'succeeded',
  'failed',
  'canceled',
  'expired',
]);

export function isTerminal(job: Pick<Job, 'state'>): boolean {
  return TERMINAL.has(job.state);
}
export function canCancel(job: Pick<Job, 'state'>): boolean {
  return !TERMINAL.has(job.state);
}
export function canRetry(job: Pick<Job, 'state'>): boolean {
  return TERMINAL.has(job.state);
}
