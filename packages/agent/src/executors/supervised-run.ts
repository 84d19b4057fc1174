// One command job followed to its outcome: through the shared supervisor host's events, or
// through its job directory (a per-job supervisor, or a job re-attached after a restart).

import type { ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import {
  jobFile,
  writeJsonAtomic,
  type ExitInfo,
  type JobSpec,
  type SupervisorInfo,
} from '../supervisor/job-files.js';
import { bootId, readProcStat, signalTree, treeAlive, type JobTree } from '../supervisor/proc.js';
import {
  readExitInfo,
  readSpec,
  readSupervisorInfo,
  supervisorAlive,
} from '../supervisor/supervisor-launcher.js';
import type { HostEvent, SupervisorHostClient } from '../supervisor/supervisor-host-client.js';
import { failed, type JobOutcome, type RunCallbacks, type Usage } from './job-outcome.js';
import { LogTail } from './log-tail.js';
import { OutputBatcher } from './output-batcher.js';

/** A command job running under its supervisor. */
export interface CommandRun {
  readonly jobId: string;
  readonly attempt: number;
  readonly jobDir: string;
  /** The command's pid (= its process group and session id); undefined if it never started. */
  readonly pid: number | undefined;
  /** Offset in output.log up to which output has been emitted. */
  readonly logOffset: number;
  /** The outcome; resolves exactly once, after the last output and progress were emitted. Never rejects. */
  readonly done: Promise<JobOutcome>;
  /** SIGTERM to the whole tree, SIGKILL after the grace; `done` then resolves CANCELED. */
  cancel(): void;
  /**
   * The agent has recorded the outcome (after `done`): the shared host need not write the
   * job's records, and a short silent job then leaves no directory at all.
   */
  release(): void;
}

export interface RunOptions {
  killGraceMs: number;
  batchMs: number;
  batchBytes: number;
  pollIntervalMs: number;
  callbacks: RunCallbacks;
  logOffset?: number;
  /** Where kill requests go when supervisor.json names the shared host. */
  host?: SupervisorHostClient;
}

/**
 * Follows one job. A job started in the shared host is followed through the host's events on
 * its socket (spawned, output, exit); a per-job supervisor's job, or one re-attached after a
 * restart, through its directory (an inotify watch). Either way the outcome is the
 * supervisor's exit record (the exit event, or exit.json, which the supervisor writes last), a
 * 1 s interval re-reads the directory as a safety net, and the supervisor's death without an
 * exit record means the job can no longer be observed: what is left of its tree is killed and
 * the attempt ends AGENT_LOST.
 */
export class SupervisedRun implements CommandRun {
  readonly done: Promise<JobOutcome>;
  private resolveDone!: (o: JobOutcome) => void;
  private settled = false;
  private info: SupervisorInfo | undefined;
  private child: ChildProcess | undefined;
  private host: SupervisorHostClient | undefined;
  private offHostGone: (() => void) | undefined;
  private offHostEvents: (() => void) | undefined;
  /** Started in the shared host by this run (not re-attached). */
  private hosted = false;
  /** Known from start(); read from spec.json when needed otherwise. */
  private spec: JobSpec | undefined;
  private watcher: FSWatcher | undefined;
  private interval: NodeJS.Timeout | undefined;
  private readonly tail: LogTail;
  private readonly waiters = new Set<() => void>();
  private fallbackKill: NodeJS.Timeout | undefined;
  /** Until begin(), the directory may hold another run's files: never read them. */
  private begun = false;

  constructor(
    readonly jobDir: string,
    readonly jobId: string,
    readonly attempt: number,
    private readonly opts: RunOptions,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const batcher = new OutputBatcher({
      ...opts.callbacks,
      batchMs: opts.batchMs,
      batchBytes: opts.batchBytes,
    });
    this.tail = new LogTail(jobFile(jobDir, 'output'), opts.logOffset ?? 0, batcher, opts.batchMs);
  }

  get pid(): number | undefined {
    return this.info?.pid ?? undefined;
  }

  get logOffset(): number {
    return this.tail.offset;
  }

  /**
   * Asks the connected shared host to run the job and follows it through the host's events:
   * no inotify watch and no file read on the way (the files are still written, for attach).
   * The executor alone (no server), 300 sequential `true` on the 2-core dev VM at load ~8:
   * p50 10–37 ms with the watch (~10 events per job, each reading supervisor.json and
   * exit.json; env.json written and read back) against 4.4–7.3 ms with the events, a bare
   * spawn in the same runs 1.9–3.7 ms; agent CPU per job 2.6–3.4 ms → 1.0–1.2 ms.
   */
  beginHosted(host: SupervisorHostClient, spec: JobSpec, env: Record<string, string>): void {
    this.begun = true;
    this.hosted = true;
    this.spec = spec;
    this.host = host;
    this.offHostGone = host.onGone(() => {
      this.check();
      if (!this.settled) this.supervisorGone();
    });
    this.offHostEvents = host.start(this.jobDir, spec, env, (ev) => this.onHostEvent(ev));
    this.startSafetyNet();
  }

  private onHostEvent(ev: HostEvent): void {
    if (this.settled) return;
    if (ev.ev === 'output') {
      this.tail.poke();
    } else if (ev.ev === 'spawned') {
      this.info = ev.info;
      for (const w of [...this.waiters]) w();
    } else if (ev.ev === 'exit') {
      void this.settle(outcomeFromExit(ev.exit, this.spec), ev.outputBytes);
    }
  }

  /** The re-check behind the events or the watch; unref'd, it keeps nothing alive. */
  private startSafetyNet(): void {
    this.interval = setInterval(() => {
      this.tail.poke();
      this.check();
      if (!this.child && this.info && !this.settled && !supervisorAlive(this.info))
        this.supervisorGone();
    }, this.opts.pollIntervalMs);
    this.interval.unref();
  }

  /**
   * Starts watching the job directory. `child`: the per-job supervisor just launched;
   * undefined: re-attaching after a restart.
   */
  begin(child: ChildProcess | undefined): void {
    this.begun = true;
    this.child = child;
    this.host ??= this.opts.host;
    try {
      // One inotify watch on the directory covers output.log growing and exit.json appearing.
      this.watcher = watch(this.jobDir, (_event, name) => {
        if (name === 'output.log') this.tail.poke();
        else this.check();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // No inotify left (or no fs.watch here): the interval below still sees everything.
    }
    this.startSafetyNet();
    child?.once('exit', () => {
      this.child = undefined;
      this.check();
      if (!this.settled) this.supervisorGone();
    });
    child?.once('error', () => {
      this.child = undefined;
      this.check();
      if (!this.settled) this.supervisorGone();
    });
    this.check();
    if (!this.settled && child === undefined && (!this.info || !supervisorAlive(this.info)))
      this.supervisorGone();
    this.tail.poke();
  }

  /** Resolves when the command has a pid or the run has ended; cancels after `timeoutMs`. */
  waitStarted(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const ready = () => this.settled || this.info?.pid != null;
      if (ready()) return resolve();
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        this.settleNow(
          failed('SPAWN_FAILED', `the job supervisor did not start within ${timeoutMs} ms`, {
            wallSec: 0,
          }),
        );
        resolve();
      }, timeoutMs);
      const waiter = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
  }

  cancel(): void {
    if (this.settled) return;
    const info = this.info;
    try {
      // Not fsynced, like every job-directory file: its reader runs on this machine.
      writeJsonAtomic(
        jobFile(this.jobDir, 'killRequest'),
        { reason: 'cancel', graceMs: this.opts.killGraceMs },
        0o600,
        false,
      );
    } catch {
      // The supervisor then assumes `cancel` with the job's grace.
    }
    // A job started here in the host goes through it even before its `spawned` event: the
    // host reads the socket in order, so the kill finds the job it started.
    if ((this.hosted || info?.hostSocket !== undefined) && this.host) {
      // The shared host reads the reason from kill-request.json, like a per-job supervisor.
      this.host.kill(this.jobDir).catch(() => this.supervisorGone());
      return;
    }
    if (info && supervisorAlive(info)) {
      try {
        process.kill(info.supervisorPid, 'SIGTERM');
        return;
      } catch {
        // gone meanwhile: fall through
      }
    }
    this.supervisorGone();
  }

  release(): void {
    if (this.hosted && this.settled) this.host?.release(this.jobDir);
  }

  /** Ends the run with `outcome` without a supervisor (it never started or failed to). */
  settleNow(outcome: JobOutcome): void {
    if (this.settled) return;
    const info = this.info;
    if (this.hosted || info?.hostSocket !== undefined) {
      this.host?.kill(this.jobDir).catch(() => undefined); // never the host itself
    } else if (info && supervisorAlive(info)) {
      try {
        process.kill(info.supervisorPid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const tree = this.jobTree();
    if (tree) signalTree(tree, 'SIGKILL');
    void this.settle(outcome);
  }

  private check(): void {
    if (this.settled) return;
    // supervisor.json is final once it names the command's pid.
    if (this.info?.pid == null) this.info = readSupervisorInfo(this.jobDir) ?? this.info;
    const exit = readExitInfo(this.jobDir);
    if (exit) void this.settle(outcomeFromExit(exit, this.spec ?? readSpec(this.jobDir)));
    for (const w of [...this.waiters]) w();
  }

  /**
   * The supervisor is gone. If it left exit.json that is the outcome; otherwise kill whatever
   * remains of the tree (SIGTERM, SIGKILL after the grace) and end AGENT_LOST.
   */
  private supervisorGone(): void {
    this.check();
    if (this.settled || this.fallbackKill) return;
    const tree = this.jobTree();
    const lost = (): void => {
      void this.settle(
        failed(
          'AGENT_LOST',
          `the job's supervisor${this.info ? ` (pid ${this.info.supervisorPid})` : ''} is gone and left no exit status`,
          { wallSec: wallSince(this.info?.startedAt) },
        ),
      );
    };
    if (!tree || !treeAlive(tree)) return lost();
    signalTree(tree, 'SIGTERM');
    signalTree(tree, 'SIGCONT');
    const deadline = Date.now() + this.opts.killGraceMs;
    const step = (): void => {
      if (!treeAlive(tree)) return lost();
      if (Date.now() >= deadline) signalTree(tree, 'SIGKILL');
      this.fallbackKill = setTimeout(step, 100);
    };
    this.fallbackKill = setTimeout(step, 100);
  }

  /**
   * The command's tree, only if it can be ours: same boot, and the leader either gone (its
   * pid stays reserved while any member of its group or session lives) or alive with the
   * recorded start time. A leader pid held by another process means our tree is gone.
   */
  private jobTree(): JobTree | undefined {
    const info = this.info;
    if (!info || info.pid == null || info.pid <= 1) return undefined;
    if (info.bootId !== null && info.bootId !== bootId()) return undefined;
    const leader = readProcStat(info.pid);
    const leaderLive = leader && leader.state !== 'Z' && leader.state !== 'X';
    if (leaderLive && info.startTime !== null && leader.startTime !== info.startTime)
      return undefined;
    return { pgid: info.pid, sid: info.pid, minStartTime: info.startTime };
  }

  /** `outputBytes`: output.log's final size when known (the host's exit event). */
  private async settle(outcome: JobOutcome, outputBytes?: number): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.offHostGone?.();
    this.offHostEvents?.();
    this.watcher?.close();
    clearInterval(this.interval);
    clearTimeout(this.fallbackKill);
    for (const w of [...this.waiters]) w();
    if (this.begun) await this.tail.drain(outputBytes).catch(() => undefined);
    this.resolveDone(outcome);
  }
}

function wallSince(iso: string | null | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? Math.max(0, (Date.now() - t) / 1000) : 0;
}

/** Maps the supervisor's exit record to the attempt's outcome. */
export function outcomeFromExit(exit: ExitInfo, spec?: JobSpec): JobOutcome {
  const usage: Usage = { wallSec: round3(exit.wallSec) };
  if (exit.cpuSec != null) usage.cpuSec = round3(exit.cpuSec);
  if (exit.maxRssMb != null) usage.maxRssMb = exit.maxRssMb;
  const status: Pick<JobOutcome, 'exitCode' | 'signal'> = {};
  if (exit.exitCode != null) status.exitCode = exit.exitCode;
  if (exit.signal != null) status.signal = exit.signal;

  if (exit.spawnError !== undefined) return failed('SPAWN_FAILED', exit.spawnError, usage);
  if (exit.supervisorError !== undefined)
    return exit.startedAt
      ? failed('AGENT_LOST', `the job supervisor failed: ${exit.supervisorError}`, usage, status)
      : failed('SPAWN_FAILED', `the job supervisor failed: ${exit.supervisorError}`, usage);
  if (exit.killReason === 'timeout') {
    const limit = spec?.timeoutMs !== undefined ? ` after ${spec.timeoutMs / 1000} s` : '';
    return failed('TIMEOUT', `timed out${limit}; the process tree was killed`, usage, status);
  }
  if (exit.killReason === 'cancel')
    return failed('CANCELED', 'canceled; the process tree was killed', usage, status);
  if (exit.signal != null)
    return failed('KILLED_BY_SIGNAL', `killed by signal ${exit.signal}`, usage, status);
  if (exit.exitCode === 0) return { outcome: 'succeeded', exitCode: 0, usage };
  return failed('EXIT_NONZERO', `exit code ${exit.exitCode}`, usage, status);
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
