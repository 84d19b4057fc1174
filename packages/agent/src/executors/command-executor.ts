import { existsSync, rmSync, writeFileSync } from 'node:fs';
import type { ClaimedJob } from '@offload/protocol';
import { jobFile, makeJobDir, type JobSpec } from '../supervisor/job-files.js';
import {
  jobDirPath,
  launchSupervisor,
  readExitInfo,
  readSpec,
  readSupervisorInfo,
  supervisorAlive,
} from '../supervisor/supervisor-launcher.js';
import { SupervisorHostClient } from '../supervisor/supervisor-host-client.js';
import { agentBaseEnv, buildJobEnv } from './job-env.js';
import { failed, type RunCallbacks } from './job-outcome.js';
import { DEFAULT_BATCH_BYTES, DEFAULT_BATCH_MS } from './output-batcher.js';
import { SupervisedRun, type CommandRun } from './supervised-run.js';
import { errMessage } from '../error-message.js';

export { outcomeFromExit, type CommandRun } from './supervised-run.js';

export const DEFAULT_KILL_GRACE_MS = 10_000;
/** After the shared host could not be used, per-job supervisors for this long, then try again. */
const HOST_RETRY_MS = 60_000;

export interface CommandExecutorOptions {
  /** The agent's state directory; job directories go under `<stateDir>/jobs/`. */
  stateDir: string;
  /** SIGTERM → SIGKILL delay on cancel and timeout (SPEC default 10 s). */
  killGraceMs?: number;
  /** Environment the job's `env` is added to. Default: the agent's, less its own OFFLOAD_* settings. */
  baseEnv?: NodeJS.ProcessEnv;
  /** The machine has GPUs: a job that reserved none gets CUDA_VISIBLE_DEVICES="" (sees none). */
  hasGpus?: boolean;
  /** Output batching (agent protocol: ~100 ms / 64 KiB). */
  batchMs?: number;
  batchBytes?: number;
  /** Safety net behind fs.watch: re-check the job directory and the supervisor this often. */
  pollIntervalMs?: number;
  /** How long the supervisor may take to start the command. */
  startTimeoutMs?: number;
  /**
   * `shared` (default): one supervisor host process for all jobs (~2 ms per job); `per-job`: a
   * supervisor process per job (~40 ms each). Jobs with `nice` always get their own.
   */
  supervisor?: 'shared' | 'per-job';
  /** Operator messages (the shared host could not start, ...). */
  log?: (line: string) => void;
}

export interface AttachOptions extends RunCallbacks {
  /** Resume the output stream here (an `OutputChunk.offset` persisted before the restart). */
  logOffset?: number;
}

export interface CommandExecutor {
  /** Starts `job` and resolves once its command runs (or failed to start: see `done`). */
  start(job: ClaimedJob, callbacks?: RunCallbacks): Promise<CommandRun>;
  /**
   * Re-attaches to the job in `jobDir` after an agent restart: follows a supervisor that still
   * runs (checked by pid and start time, against pid reuse), or resolves at once from exit.json.
   */
  attach(jobDir: string, options?: AttachOptions): Promise<CommandRun>;
  /** Drops the connection to the shared supervisor host, which exits once its jobs ended. */
  close(): void;
}

export function createCommandExecutor(options: CommandExecutorOptions): CommandExecutor {
  const opts = {
    killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    batchMs: options.batchMs ?? DEFAULT_BATCH_MS,
    batchBytes: options.batchBytes ?? DEFAULT_BATCH_BYTES,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  };
  const host =
    options.supervisor === 'per-job' ? undefined : new SupervisorHostClient(options.stateDir);
  /** When the host last could not be used; per-job supervisors until HOST_RETRY_MS later. */
  let hostFailedAt = -Infinity;
  // The agent's environment is read once: process.env is a getter into the C++ side per key,
  // and copying it for every job was 4 % of the agent's CPU in the shell benchmark.
  const baseEnv = options.baseEnv ?? agentBaseEnv();

  /**
   * Starts the job's supervision: in the shared host when possible (it makes the job directory
   * after the spawn), else in a process of its own, which reads its spec and environment from
   * the directory made here.
   */
  async function launch(
    run: SupervisedRun,
    jobDir: string,
    spec: JobSpec,
    env: Record<string, string>,
  ): Promise<void> {
    if (host && Date.now() - hostFailedAt > HOST_RETRY_MS && spec.nice === undefined) {
      try {
        await host.ready();
        run.beginHosted(host, spec, env);
        return;
      } catch (err) {
        // E.g. a state directory path too long for a unix socket: per-job supervisors still work.
        hostFailedAt = Date.now();
        options.log?.(
          `the shared job supervisor cannot be used (${errMessage(err)}); starting one supervisor per job instead`,
        );
      }
    }
    makeJobDir(jobDir, spec);
    writeFileSync(jobFile(jobDir, 'env'), JSON.stringify(env), { mode: 0o600 });
    run.begin(launchSupervisor(jobDir));
  }

  return {
    async start(job, callbacks = {}) {
      const jobDir = jobDirPath(options.stateDir, job.id, job.attempt);
      const run = new SupervisedRun(jobDir, job.id, job.attempt, { ...opts, callbacks });
      try {
        clearJobDir(jobDir);
        const argv = commandArgv(job);
        if (typeof argv === 'string') {
          run.settleNow(failed('SPAWN_FAILED', argv, { wallSec: 0 }));
          return run;
        }
        const spec: JobSpec = {
          version: 1,
          jobId: job.id,
          attempt: job.attempt,
          argv,
          killGraceMs: opts.killGraceMs,
          createdAt: new Date().toISOString(),
          ...(job.payload.cwd !== undefined && { cwd: job.payload.cwd }),
          ...(job.payload.nice !== undefined && { nice: job.payload.nice }),
          ...(job.timeoutSec > 0 && { timeoutMs: Math.round(job.timeoutSec * 1000) }),
        };
        const env = buildJobEnv(job, { baseEnv, hasGpus: options.hasGpus ?? false });
        await launch(run, jobDir, spec, env);
        await run.waitStarted(opts.startTimeoutMs);
      } catch (err) {
        run.settleNow(
          failed('SPAWN_FAILED', `could not start the job: ${errMessage(err)}`, { wallSec: 0 }),
        );
      }
      return run;
    },

    async attach(jobDir, { logOffset = 0, ...callbacks } = {}) {
      const spec = readSpec(jobDir);
      if (!spec) throw new Error(`${jobDir} is not a job directory (no readable spec.json)`);
      const run = new SupervisedRun(jobDir, spec.jobId, spec.attempt, {
        ...opts,
        callbacks,
        logOffset,
        ...(host && { host }),
      });
      run.begin(undefined);
      return run;
    },

    close() {
      host?.close();
    },
  };
}

/** The argv to run, or why there is none. A string command runs under `/bin/sh -c`. */
function commandArgv(job: ClaimedJob): string[] | string {
  const cmd = job.payload.command;
  if (typeof cmd === 'string') return cmd.trim() ? ['/bin/sh', '-c', cmd] : 'the command is empty';
  if (Array.isArray(cmd)) return cmd.length > 0 && cmd[0] ? cmd : 'the command is empty';
  return 'the job has no command';
}

/**
 * Removes what an earlier run of this attempt left in its job directory (handed back, then
 * claimed here again; its output was shipped already), unless its supervisor still runs.
 * Synchronous, like every job-directory operation on the job's way to its spawn: the promise
 * API cost a thread-pool round trip per call, 0.2–0.4 ms each in an strace of the shell
 * benchmark on the loaded dev VM. Usually a single stat: there is no directory yet.
 */
function clearJobDir(jobDir: string): void {
  if (!existsSync(jobDir)) return;
  const info = readSupervisorInfo(jobDir);
  if (info && !readExitInfo(jobDir) && supervisorAlive(info))
    throw new Error(
      `${jobDir} belongs to a supervisor that still runs (pid ${info.supervisorPid})`,
    );
  rmSync(jobDir, { recursive: true, force: true });
}
