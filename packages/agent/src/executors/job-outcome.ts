import type { Completion, Job, JobErrorCode } from '@offload/protocol';

export type JobError = NonNullable<Job['error']>;
export type Usage = NonNullable<Job['usage']>;
export type ProgressUpdate = NonNullable<Job['progress']>;

/**
 * How one attempt ended, as the agent reports it: a Completion without the job and lease ids
 * (see `toCompletion`). `handback` is the daemon's business, never an executor's.
 */
export interface JobOutcome {
  outcome: 'succeeded' | 'failed';
  exitCode?: number;
  /** Signal name (`SIGKILL`) when the command was ended by one. */
  signal?: string;
  /** A task's return value (JSON). */
  result?: unknown;
  error?: JobError;
  usage: Usage;
}

/** Output as it is streamed: a chunk of one stream, in order across both streams. */
export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: string;
  /**
   * Commands only: the offset in the job's output.log just after this chunk. Persist the last
   * shipped one and pass it to `attach({ logOffset })` after a restart to resume without repeats.
   */
  offset?: number;
}

/** Callbacks a running job reports through. They must not throw (a throw is logged and dropped). */
export interface RunCallbacks {
  onOutput?: (chunk: OutputChunk) => void;
  onProgress?: (progress: ProgressUpdate) => void;
}

export function failed(
  code: JobErrorCode,
  message: string,
  usage: Usage,
  extra: Pick<JobOutcome, 'exitCode' | 'signal'> = {},
): JobOutcome {
  return { outcome: 'failed', ...extra, error: { code, message }, usage };
}

/** The Completion to send for `outcome` (agent protocol: sync `completions[]` or `/complete`). */
export function toCompletion(
  outcome: JobOutcome,
  ids: { jobId: string; leaseId: string },
): Completion {
  return { jobId: ids.jobId, leaseId: ids.leaseId, ...outcome };
}
