import type { Attempt, Job } from '@offload/client/browser';

/** Where an agent's card is: the agents page scrolls to it. */
export function agentHref(agentId: string): string {
  return `/agents#agent-${encodeURIComponent(agentId)}`;
}

/**
 * The attempts to show: the API's list, plus the job's running attempt when a live event
 * has already said it started but the list was read before that (the page re-reads it after
 * each event; this keeps the timeline from lagging behind the job in between).
 */
export function withLiveAttempt(attempts: readonly Attempt[], job: Job): Attempt[] {
  if (job.state !== 'running' || !job.startedAt || !job.agent) return [...attempts];
  // The list already has this attempt (running, or ended if it was read after the job).
  if (attempts.some((a) => a.startedAt === job.startedAt)) return [...attempts];
  return [
    ...attempts.filter((a) => a.outcome !== 'running'),
    { attempt: job.attempt, agent: job.agent, startedAt: job.startedAt, outcome: 'running' },
  ];
}
