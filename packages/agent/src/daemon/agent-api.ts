import type { TaskHandlers, TaskRegistry } from '../executors/task-module.js';
import type { CpuLoadGuard } from '../resources/cpu-load.js';
import type { ResourceOverrides } from '../resources/detect-resources.js';
import type { GpuDetectOptions } from '../resources/gpu-detect.js';

// The agent's public face: what createAgent() takes and returns (agent-daemon.ts builds it).

export interface AgentOptions {
  /** One or more server URLs; the agent fails over between them. */
  servers: readonly string[];
  /** Needed on first start only; later starts use the secret in the state directory. */
  joinToken?: string | undefined;
  /** Default: the name in the state directory, else the hostname. */
  name?: string | undefined;
  capabilities?: readonly string[];
  pools?: readonly string[];
  tier?: number | undefined;
  /** Default: the CPU count. */
  maxJobs?: number | undefined;
  /** Take no new work while the machine's CPU load (percent) is above this. */
  cpuThreshold?: number | undefined;
  /** Replaces the guard `cpuThreshold` builds (tests, or a load measure of your own). */
  cpuLoadGuard?: CpuLoadGuard | undefined;
  /** Task handlers (a loaded module or a plain map). */
  tasks?: TaskRegistry | TaskHandlers | undefined;
  /** Default {@link defaultStateDir}. */
  stateDir?: string | undefined;
  resources?: ResourceOverrides | undefined;
  nvidiaSmi?: GpuDetectOptions | undefined;
  /** Long-poll hold of a sync (default 20 s). */
  syncWaitMs?: number | undefined;
  /** SIGTERM → SIGKILL delay on cancel (default 10 s). */
  killGraceMs?: number | undefined;
  /** How long a finished command attempt's job directory is kept (default 30 s). */
  jobDirKeepMs?: number | undefined;
  reconnectBaseMs?: number | undefined;
  reconnectMaxMs?: number | undefined;
  /** One line per event worth telling the operator. Default: stderr. */
  log?: ((line: string) => void) | undefined;
  /**
   * The server refused the agent after it had started (revoked): the agent takes no more work.
   * Call `stop()` then (the CLI exits 125).
   */
  onFatal?: ((err: Error) => void) | undefined;
  version?: string | undefined;
}

/** Why the agent could not start; `code` tells the CLI what to print. */
export class AgentStartError extends Error {
  override name = 'AgentStartError';
  constructor(
    readonly code: 'JOIN_REFUSED' | 'NAME_TAKEN' | 'NO_CREDENTIAL' | 'REFUSED',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface RunningJobInfo {
  jobId: string;
  leaseId: string;
  attempt: number;
  kind: 'command' | 'task';
}

export interface Agent {
  /** Registers and starts the loops; resolves once registered (rejects with AgentStartError). */
  start(): Promise<void>;
  /** Takes no more work, waits up to `drainMs` for running jobs, hands back the rest. */
  stop(options?: { drainMs?: number }): Promise<void>;
  readonly id: string | undefined;
  readonly name: string | undefined;
  readonly stateDir: string;
  running(): RunningJobInfo[];
}
