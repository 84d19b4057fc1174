import type { Agent, Job, JobListQuery } from '@offload/protocol';
import type { RequestPolicy } from './http-client.js';
import type { LiveStream } from './sse-subscription.js';
import type { FetchLike, Transport } from './transport.js';

/** Options of {@link Offload}. */
export interface OffloadOptions extends RequestPolicy {
  /** The server, e.g. `http://127.0.0.1:7070` (a path prefix behind a proxy is kept). */
  url: string;
  /** An API key or the admin token. Public routes (`health()`) work without. */
  apiKey?: string | undefined;
  /**
   * Send requests with this `fetch` instead of the entry's default transport (undici in Node,
   * the global `fetch` in `@offload/client/browser`).
   */
  fetch?: FetchLike | undefined;
  /** A transport of your own (advanced); wins over `fetch`. */
  transport?: Transport | undefined;
}

/** Filters of {@link Offload.list} and {@link Offload.listPage}; `limit` is the page size. */
export type JobListFilter = Omit<JobListQuery, 'cursor'>;

/** One page of jobs; `nextCursor` is null on the last page. */
export interface JobPage {
  jobs: Job[];
  nextCursor: string | null;
}

export interface SubmitOptions {
  /**
   * Hold the request until the job is terminal or this many seconds pass (at most 300): one
   * round trip for short jobs. The job comes back whatever its state.
   */
  wait?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface WaitOptions {
  /** Give up after this many seconds with {@link OffloadTimeoutError}; default: wait as long as it takes. */
  timeoutSec?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** One piece of a job's output, as it was written. */
export interface LogChunk {
  stream: 'stdout' | 'stderr';
  data: string;
}

/** A followed log: the chunks as they come; `job` is the terminal job once the stream ended. */
export interface LogStream extends LiveStream<LogChunk> {
  readonly job: Job | undefined;
}

export interface LogsOptions {
  /** false or absent: the output so far, as text. */
  follow?: false | undefined;
}

export interface FollowLogsOptions {
  /** Stream the output live until the job is terminal. */
  follow: true;
  signal?: AbortSignal | undefined;
  idleTimeoutMs?: number | undefined;
}

/** Event types the server sends today; a newer server may add more of each group. */
export type JobEventType =
  | 'job.created'
  | 'job.queued'
  | 'job.started'
  | 'job.progress'
  | 'job.retrying'
  | 'job.updated'
  | 'job.succeeded'
  | 'job.failed'
  | 'job.canceled'
  | 'job.expired'
  | (`job.${string}` & {});
export type AgentEventType =
  | 'agent.online'
  | 'agent.offline'
  | 'agent.draining'
  | 'agent.updated'
  | 'agent.revoked'
  | (`agent.${string}` & {});

/** A job changed; `job` is the job after the change. */
export interface JobEvent {
  type: JobEventType;
  job: Job;
}
/** An agent changed; `agent` is the agent after the change. */
export interface AgentEvent {
  type: AgentEventType;
  agent: Agent;
}
/** What {@link Offload.events} yields; narrow with `'job' in ev`. */
export type OffloadEvent = JobEvent | AgentEvent;

export interface EventsFilter {
  /** Only this job's events. */
  jobId?: string | undefined;
  /** Only events of jobs in this queue. */
  queue?: string | undefined;
  /** Only these types; `job.*` selects a group. */
  types?: readonly (JobEventType | AgentEventType | 'job.*' | 'agent.*')[] | undefined;
  signal?: AbortSignal | undefined;
  idleTimeoutMs?: number | undefined;
}

/** Whether the server answers and is ready (its store reachable). */
export interface Health {
  ready: boolean;
  /** Why it is not ready. */
  reason?: string;
}
