import type { AgentRecord, JobRecord } from '@offload/core';
import { TERMINAL_STATES } from '@offload/protocol';
import type { LogChunk } from '@offload/store';

export const JOB_EVENT_TYPES = [
  'job.created',
  'job.queued',
  'job.started',
  'job.progress',
  'job.retrying',
  'job.updated',
  'job.succeeded',
  'job.failed',
  'job.canceled',
  'job.expired',
] as const;
export const AGENT_EVENT_TYPES = [
  'agent.online',
  'agent.offline',
  'agent.draining',
  'agent.updated',
  'agent.revoked',
] as const;
export const EVENT_TYPES = [...JOB_EVENT_TYPES, ...AGENT_EVENT_TYPES] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];
export type EventType = JobEventType | AgentEventType;

export type HubEvent =
  { type: JobEventType; job: JobRecord } | { type: AgentEventType; agent: AgentRecord };

export interface EventFilter {
  types?: ReadonlySet<EventType>;
  jobId?: string;
  queue?: string;
}

type Listener = (event: HubEvent) => void;

/**
 * The in-process fan-out of state changes: SSE subscribers, job waiters (`?wait=`,
 * `/wait`) and log followers. Publishing is a few map lookups when nobody listens, so the
 * hot path pays nothing for features no one uses. A multi-server store feeds the same
 * hub from its notifications (services/change-feed.ts), loading only the jobs someone
 * here listens to: `wantsJob`, `awaitedJobs`, `followedJobs` say which.
 */
export class EventHub {
  private readonly listeners = new Set<{ filter: EventFilter; listener: Listener }>();
  /** Subscribers without a job filter (they may want any job), and those with one, by job. */
  private anyJobListeners = 0;
  private readonly jobListeners = new Map<string, number>();
  private readonly waiters = new Map<string, Set<(job: JobRecord) => void>>();
  private readonly logFollowers = new Map<string, Set<(chunks: LogChunk[]) => void>>();
  /** The last log seq published per followed job: where another server's lines start. */
  private readonly followedUpTo = new Map<string, number>();
  private readonly activeWaits = new Set<() => void>();

  subscribe(filter: EventFilter, listener: Listener): () => void {
    const entry = { filter, listener };
    this.listeners.add(entry);
    const jobId = filter.jobId;
    if (jobId === undefined) this.anyJobListeners++;
    else this.jobListeners.set(jobId, (this.jobListeners.get(jobId) ?? 0) + 1);
    return () => {
      if (!this.listeners.delete(entry)) return;
      if (jobId === undefined) this.anyJobListeners--;
      else {
        const n = (this.jobListeners.get(jobId) ?? 1) - 1;
        if (n > 0) this.jobListeners.set(jobId, n);
        else this.jobListeners.delete(jobId);
      }
    };
  }

  /** Whether anyone here would hear of this job's change: a waiter or an event subscriber. */
  wantsJob(jobId: string): boolean {
    return this.anyJobListeners > 0 || this.waiters.has(jobId) || this.jobListeners.has(jobId);
  }

  /** Whether any subscriber takes agent events. */
  get wantsAgents(): boolean {
    return this.anyJobListeners > 0;
  }

  /** Jobs someone waits for or follows here: what a resync re-reads. */
  awaitedJobs(): string[] {
    const ids = new Set([...this.waiters.keys(), ...this.jobListeners.keys()]);
    return [...ids];
  }

  /** Jobs whose log someone follows here, with the last seq published to them (-1: none yet). */
  followedJobs(): Array<{ jobId: string; afterSeq: number }> {
    return [...this.logFollowers.keys()].map((jobId) => ({
      jobId,
      afterSeq: this.followedUpTo.get(jobId) ?? -1,
    }));
  }

  isFollowed(jobId: string): boolean {
    return this.logFollowers.has(jobId);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** Publishes a job's new state; wakes waiters when it is terminal. */
  job(type: JobEventType, job: JobRecord): void {
    if (TERMINAL_STATES.includes(job.state)) {
      const set = this.waiters.get(job.id);
      if (set) {
        this.waiters.delete(job.id);
        for (const w of set) w(job);
      }
    }
    if (this.listeners.size === 0) return;
    const event: HubEvent = { type, job };
    for (const { filter, listener } of this.listeners) {
      if (filter.types && !filter.types.has(type)) continue;
      if (filter.jobId !== undefined && filter.jobId !== job.id) continue;
      if (filter.queue !== undefined && filter.queue !== job.queue) continue;
      listener(event);
    }
  }

  agent(type: AgentEventType, agent: AgentRecord): void {
    if (this.listeners.size === 0) return;
    const event: HubEvent = { type, agent };
    for (const { filter, listener } of this.listeners) {
      if (filter.types && !filter.types.has(type)) continue;
      if (filter.jobId !== undefined || filter.queue !== undefined) continue;
      listener(event);
    }
  }

  /**
   * Resolves with the job once it is terminal, or null after `timeoutMs`. The caller must
   * check the stored state after registering, to close the race with a job that finished
   * in between; `cancel()` drops the waiter (client went away).
   */
  waitForTerminal(
    jobId: string,
    timeoutMs: number,
  ): { promise: Promise<JobRecord | null>; cancel: () => void } {
    let set = this.waiters.get(jobId);
    if (!set) {
      set = new Set();
      this.waiters.set(jobId, set);
    }
    const waiters = set;
    let done!: (job: JobRecord | null) => void;
    const promise = new Promise<JobRecord | null>((resolve) => {
      done = resolve;
    });
    const waiter = (job: JobRecord) => {
      clearTimeout(timer);
      this.activeWaits.delete(cancel);
      done(job);
    };
    const cancel = () => {
      clearTimeout(timer);
      this.activeWaits.delete(cancel);
      waiters.delete(waiter);
      if (waiters.size === 0 && this.waiters.get(jobId) === waiters) this.waiters.delete(jobId);
      done(null);
    };
    const timer = setTimeout(cancel, timeoutMs);
    waiters.add(waiter);
    this.activeWaits.add(cancel);
    return { promise, cancel };
  }

  /** Ends every wait now, as if it timed out (shutdown: the clients get 202 with the job as it is). */
  releaseWaiters(): void {
    for (const cancel of [...this.activeWaits]) cancel();
  }

  followLogs(jobId: string, listener: (chunks: LogChunk[]) => void): () => void {
    let set = this.logFollowers.get(jobId);
    if (!set) {
      set = new Set();
      this.logFollowers.set(jobId, set);
    }
    const followers = set;
    followers.add(listener);
    return () => {
      followers.delete(listener);
      if (followers.size === 0 && this.logFollowers.get(jobId) === followers) {
        this.logFollowers.delete(jobId);
        this.followedUpTo.delete(jobId);
      }
    };
  }

  logs(chunks: readonly LogChunk[]): void {
    if (this.logFollowers.size === 0) return;
    const byJob = new Map<string, LogChunk[]>();
    for (const c of chunks) {
      if (!this.logFollowers.has(c.jobId)) continue;
      let list = byJob.get(c.jobId);
      if (!list) byJob.set(c.jobId, (list = []));
      list.push(c);
      if (c.seq > (this.followedUpTo.get(c.jobId) ?? -1)) this.followedUpTo.set(c.jobId, c.seq);
    }
    for (const [jobId, list] of byJob) for (const f of this.logFollowers.get(jobId) ?? []) f(list);
  }
}

/** The event a job's new state deserves, given where it came from. */
export function jobEventFor(job: JobRecord, previous: JobRecord['state'] | null): JobEventType {
  switch (job.state) {
    case 'scheduled':
      return previous === 'running'
        ? 'job.retrying'
        : previous === null
          ? 'job.created'
          : 'job.updated';
    case 'queued':
      return previous === null ? 'job.created' : 'job.queued';
    case 'running':
      return previous === 'queued' ? 'job.started' : 'job.updated';
    case 'succeeded':
      return 'job.succeeded';
    case 'failed':
      return 'job.failed';
    case 'canceled':
      return 'job.canceled';
    case 'expired':
      return 'job.expired';
  }
}
