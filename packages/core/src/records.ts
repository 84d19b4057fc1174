import type {
  AgentResources,
  AgentState,
  BackoffSpec,
  JobErrorCode,
  JobKind,
  JobState,
  Priority,
} from '@offload/protocol';

/** What a job needs from an agent, with defaults applied. */
export interface Requirements {
  /** Sorted, unique; includes `task:<name>` for task jobs. */
  capabilities: string[];
  cpu: number;
  memoryMb: number;
  gpus: number;
  gpuMemoryMb: number;
}

export interface Backoff {
  type: BackoffSpec['type'];
  delaySec: number;
  maxDelaySec: number;
}

/** What the agent runs: kept as one JSON document so a claim can hand it over verbatim. */
export interface JobPayload {
  command?: string | string[];
  task?: string;
  input?: unknown;
  env?: Record<string, string>;
  cwd?: string;
  nice?: number;
}

export interface JobError {
  code: JobErrorCode;
  message: string;
}

export interface Progress {
  percent?: number;
  stage?: string;
  message?: string;
}

export interface Usage {
  wallSec: number;
  cpuSec?: number;
  maxRssMb?: number;
}

/** A job as the store keeps it. Times are epoch milliseconds; null means unset. */
export interface JobRecord {
  id: string;
  name: string;
  kind: JobKind;
  queue: string;
  payload: JobPayload;
  requires: Requirements;
  targetAgent: string | null;
  pool: string | null;
  priority: Priority;
  timeoutSec: number;
  maxAttempts: number;
  backoff: Backoff;
  expireAt: number | null;
  idempotencyKey: string | null;
  tags: Record<string, string>;

  state: JobState;
  /** 1-based; the attempt that runs, ran, or will run next. */
  attempt: number;
  /** While `scheduled`: when it becomes queued. */
  runAt: number | null;
  /** When it last entered `queued` (FIFO order and tier grace). */
  queuedAt: number | null;
  leaseId: string | null;
  agentId: string | null;
  agentName: string | null;
  /** GPU indexes reserved for the current attempt. */
  gpus: number[];
  cancelRequested: boolean;
  exitCode: number | null;
  signal: string | null;
  result: unknown;
  error: JobError | null;
  progress: Progress | null;
  usage: Usage | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** The fields a transition may change. */
export type JobPatch = Partial<
  Pick<
    JobRecord,
    | 'state'
    | 'attempt'
    | 'runAt'
    | 'queuedAt'
    | 'expireAt'
    | 'leaseId'
    | 'agentId'
    | 'agentName'
    | 'gpus'
    | 'cancelRequested'
    | 'exitCode'
    | 'signal'
    | 'result'
    | 'error'
    | 'progress'
    | 'usage'
    | 'startedAt'
    | 'finishedAt'
  >
>;

export interface AgentRecord {
  id: string;
  name: string;
  state: AgentState;
  capabilities: string[];
  tier: number;
  pools: string[];
  maxJobs: number;
  resources: AgentResources;
  hostname: string | null;
  os: string | null;
  arch: string | null;
  version: string | null;
  lastSeenAt: number;
  createdAt: number;
}

/** What one running attempt holds on its agent. */
export interface Reservation {
  cpu: number;
  memoryMb: number;
  gpus: number[];
}

/** An agent's resources not held by running attempts. */
export interface FreeResources {
  cpu: number;
  memoryMb: number;
  /** Indexes of free GPUs. */
  gpus: number[];
  /** How many more jobs `maxJobs` allows. */
  slots: number;
}
