import type { ClaimedJob, Completion } from '@offload/protocol';
import type { CommandExecutor } from '../executors/command-executor.js';
import { failed, type JobOutcome, type RunCallbacks } from '../executors/job-outcome.js';
import type { TaskExecutor } from '../executors/task-executor.js';
import type { ResourcePool } from '../resources/resource-pool.js';
import { jobDirPath } from '../supervisor/supervisor-launcher.js';
import type { AgentState, RunningRecord } from './agent-state.js';
import type { RunningJobInfo } from './agent-api.js';
import type { JobDirs } from './job-dirs.js';
import type { LogShipper } from './log-shipper.js';
import { errMessage } from '../error-message.js';

/** What `track` follows of an attempt: its outcome, and how to stop and release it. */
interface TrackedRun {
  readonly done: Promise<JobOutcome>;
  cancel(): void;
  /** The outcome is recorded: the supervisor need not keep its own record (command jobs). */
  release?(): void;
}

/** An attempt that ended before it ran (no handler, no job directory). */
const alreadyEnded = (outcome: JobOutcome): TrackedRun => ({
  done: Promise.resolve(outcome),
  cancel: () => undefined,
});

/** One attempt running here. */
interface Execution {
  job: Pick<ClaimedJob, 'id' | 'leaseId' | 'attempt'>;
  kind: 'command' | 'task';
  cancel(): void;
  /** Lease gone: kill, report nothing. */
  stale: boolean;
  /** Graceful stop: kill, report handback. */
  handback: boolean;
  done: Promise<void>;
}

export interface JobRunsDeps {
  state: AgentState;
  stateDir: string;
  jobDirs: JobDirs;
  shipper: LogShipper;
  pool: ResourcePool;
  commands: CommandExecutor;
  tasks: TaskExecutor | undefined;
  log: (line: string) => void;
  /**
   * An attempt ended and its resources are free. `report`: its completion is in the outbox
   * for the server (not a stale lease, not a handback).
   */
  ended(leaseId: string, report: boolean): void;
}

/**
 * The attempts this agent runs, by lease: started from claims, re-attached after a restart,
 * canceled, and recorded when they end. A command attempt's running record is written before
 * its supervisor starts and removed once its completion is on disk, so an agent killed at
 * any point finds (and follows or kills) every command it started.
 */
export class JobRuns {
  private readonly executions = new Map<string, Execution>();

  constructor(private readonly d: JobRunsDeps) {}

  get size(): number {
    return this.executions.size;
  }

  leases(): string[] {
    return [...this.executions.keys()];
  }

  list(): RunningJobInfo[] {
    return [...this.executions.values()].map((e) => ({
      jobId: e.job.id,
      leaseId: e.job.leaseId,
      attempt: e.job.attempt,
      kind: e.kind,
    }));
  }

  /** Re-attaches to the command attempts recorded before a restart. */
  async recover(): Promise<void> {
    const { state, pool, log } = this.d;
    for (const rec of state.running()) {
      if (this.executions.has(rec.leaseId)) continue;
      try {
        pool.reserve(rec.leaseId, { cpu: rec.cpu, memoryMb: rec.memoryMb, gpus: rec.gpus });
      } catch {
        // Over-committed after an override change: run it anyway, it is already running.
      }
      let run;
      try {
        run = await this.d.commands.attach(rec.jobDir, {
          logOffset: rec.logOffset,
          ...this.callbacks(rec, rec),
        });
      } catch (err) {
        // Its job directory is gone: nothing left to follow or kill; the server's lease
        // timeout retries the job.
        log(`cannot re-attach to job ${rec.jobId}: ${errMessage(err)}`);
        pool.release(rec.leaseId);
        state.deleteRunning(rec);
        continue;
      }
      log(`re-attached to job ${rec.jobId} (attempt ${rec.attempt})`);
      this.track(rec, 'command', run, rec);
    }
  }

  /** Holds the job's slot (and resources) from the moment its claim arrives. */
  reserve(job: ClaimedJob): void {
    try {
      this.d.pool.reserve(job.leaseId, { cpu: job.cpu, memoryMb: job.memoryMb, gpus: job.gpus });
    } catch (err) {
      this.d.log(`job ${job.id} does not fit here (${errMessage(err)}); running it anyway`);
    }
  }

  /** Runs a claimed job reserved with reserve(). */
  async start(job: ClaimedJob): Promise<void> {
    const ids = { jobId: job.id, leaseId: job.leaseId, attempt: job.attempt };
    const isTask = job.payload.task !== undefined && job.payload.command === undefined;
    if (isTask) {
      const tasks = this.d.tasks;
      if (!tasks) {
        const outcome = failed('NO_HANDLER', 'this agent has no task handlers', { wallSec: 0 });
        this.track(ids, 'task', alreadyEnded(outcome));
        return;
      }
      const run = tasks.start(job, this.callbacks(ids));
      this.track(ids, 'task', run);
      return;
    }
    let jobDir: string;
    try {
      jobDir = jobDirPath(this.d.stateDir, job.id, job.attempt);
    } catch (err) {
      const outcome = failed('SPAWN_FAILED', errMessage(err), { wallSec: 0 });
      this.track(ids, 'command', alreadyEnded(outcome));
      return;
    }
    const rec: RunningRecord = {
      ...ids,
      jobDir,
      cpu: job.cpu,
      memoryMb: job.memoryMb,
      gpus: job.gpus,
      logOffset: 0,
    };
    // Registered before the supervisor starts, so a cancel that arrives meanwhile finds it.
    let cancelled = false;
    let cancelRun: () => void = () => (cancelled = true);
    let releaseRun: () => void = () => undefined;
    let resolveDone!: (o: JobOutcome) => void;
    const done = new Promise<JobOutcome>((r) => (resolveDone = r));
    // With its record: when it ends, the record goes (and its directory, a while later).
    const tracked = { done, cancel: () => cancelRun(), release: () => releaseRun() };
    this.track(rec, 'command', tracked, rec);
    try {
      // Recorded before the supervisor starts: an agent killed in between still finds (and
      // follows or kills) the attempt after its restart.
      this.d.state.putRunning(rec);
      const run = await this.d.commands.start(job, this.callbacks(rec, rec));
      cancelRun = () => run.cancel();
      releaseRun = () => run.release();
      if (cancelled) run.cancel();
      void run.done.then(resolveDone);
    } catch (err) {
      resolveDone(
        failed('SPAWN_FAILED', `could not start the job: ${errMessage(err)}`, { wallSec: 0 }),
      );
    }
  }

  /** The server canceled these leases: kill their trees (reported as CANCELED). */
  cancel(leases: readonly string[]): void {
    for (const lease of leases) {
      const ex = this.executions.get(lease);
      if (ex) {
        this.d.log(`canceling job ${ex.job.id}`);
        ex.cancel();
      }
    }
  }

  /** The lease is no longer this agent's: kill the attempt, report nothing. */
  killStale(lease: string): void {
    const ex = this.executions.get(lease);
    if (!ex || ex.stale) return;
    ex.stale = true;
    this.d.log(`lease of job ${ex.job.id} is no longer current: killing it, reporting nothing`);
    ex.cancel();
  }

  /** A graceful stop's end: kill what still runs, to be reported as handed back. */
  handBackAll(): void {
    for (const ex of this.executions.values()) {
      ex.handback = true;
      ex.cancel();
    }
  }

  /** Resolves once every attempt running now has ended and been recorded. */
  async allDone(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  private callbacks(ids: { jobId: string; leaseId: string }, rec?: RunningRecord): RunCallbacks {
    const { shipper, state } = this.d;
    return {
      onOutput: (chunk) => {
        shipper.output(ids.jobId, ids.leaseId, chunk.stream, chunk.data, () => {
          if (rec && chunk.offset !== undefined) {
            rec.logOffset = chunk.offset;
            try {
              state.updateRunning(rec);
            } catch {
              // only costs repeated output after a restart
            }
          }
        });
      },
      onProgress: (p) => shipper.progress(ids.jobId, ids.leaseId, p),
    };
  }

  private track(
    ids: { jobId: string; leaseId: string; attempt: number },
    kind: 'command' | 'task',
    run: TrackedRun,
    rec?: RunningRecord,
  ): void {
    const { state, jobDirs, shipper, pool } = this.d;
    const ex: Execution = {
      job: { id: ids.jobId, leaseId: ids.leaseId, attempt: ids.attempt },
      kind,
      cancel: () => run.cancel(),
      stale: false,
      handback: false,
      done: Promise.resolve(),
    };
    this.executions.set(ids.leaseId, ex);
    ex.done = run.done.then((outcome) => {
      let recorded = false;
      try {
        // Recorded at once; it is sent only after the job's output (the daemon's reports).
        if (!ex.stale) {
          const completion: Completion = ex.handback
            ? { jobId: ids.jobId, leaseId: ids.leaseId, outcome: 'handback' }
            : { jobId: ids.jobId, leaseId: ids.leaseId, ...outcome };
          state.outbox.put(completion);
        }
        if (rec) {
          state.outbox.flush(); // on disk before the record that would recover it goes
          state.deleteRunning(rec);
          jobDirs.finished(rec.jobDir);
        }
        recorded = true;
      } catch (err) {
        // The state directory failed (disk full?): the server's lease timeout decides instead.
        this.d.log(`could not record the outcome of job ${ids.jobId}: ${errMessage(err)}`);
      } finally {
        pool.release(ids.leaseId);
        this.executions.delete(ids.leaseId);
        shipper.forget(ids.leaseId);
        this.d.ended(ids.leaseId, !ex.stale && !ex.handback);
        // After the report is on its way: the supervisor's records of an outcome the outbox
        // holds are not needed (a `true` job's four file creations, 0.6–3 ms of kernel CPU).
        if (recorded) run.release?.();
      }
    });
  }
}
