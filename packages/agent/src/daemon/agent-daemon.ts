import { join } from 'node:path';
import type { AgentRegister, ClaimedJob, Completion } from '@offload/protocol';
import { createCommandExecutor, type CommandExecutor } from '../executors/command-executor.js';
import { failed, type JobOutcome, type RunCallbacks } from '../executors/job-outcome.js';
import { createTaskExecutor, type TaskExecutor } from '../executors/task-executor.js';
import { createCpuLoadGuard, type CpuLoadGuard } from '../resources/cpu-load.js';
import { agentCapabilities, detectResources } from '../resources/detect-resources.js';
import { ResourcePool } from '../resources/resource-pool.js';
import { jobDirPath } from '../supervisor/supervisor-launcher.js';
import {
  AgentState,
  defaultAgentName,
  defaultStateDir,
  type RunningRecord,
} from './agent-state.js';
import { AgentStartError, type Agent, type AgentOptions } from './agent-api.js';
import { Connection, StoppedError } from './connection.js';
import { JobDirs } from './job-dirs.js';
import { LogShipper } from './log-shipper.js';
import { refused, registerAgent } from './registration.js';
import { keyOf } from './keyed-journal.js';

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

const DEFAULT_SYNC_WAIT_MS = 20_000;
const MAX_COMPLETIONS_PER_SYNC = 500;

export function createAgent(options: AgentOptions): Agent {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const stateDir = options.stateDir ?? defaultStateDir();
  const state = new AgentState(stateDir);
  const conn = new Connection({
    servers: options.servers,
    reconnectBaseMs: options.reconnectBaseMs ?? 250,
    reconnectMaxMs: options.reconnectMaxMs ?? 15_000,
    requestTimeoutMs: 30_000,
    log,
  });
  const jobDirs = new JobDirs(join(stateDir, 'jobs'), options.jobDirKeepMs ?? 30_000, log);
  const executions = new Map<string, Execution>(); // by lease id
  const sending = new Set<string>(); // outbox keys on their way to the server
  let pool: ResourcePool | undefined;
  let commands: CommandExecutor | undefined;
  let tasks: TaskExecutor | undefined;
  let guard: CpuLoadGuard | undefined;
  let agentId: string | undefined;
  let agentName: string | undefined;
  let heartbeatMs = 10_000;
  let draining = false;
  let stopping = false;
  /** A sync with a long-poll hold is out: finished attempts must not wait for it to return. */
  let parked = false;
  /** The last sync got fewer jobs than it asked for: the next one may well be held. */
  let lastClaimShort = true;
  let reportArmed = false;
  let reporting = false;
  let wake: (() => void) | undefined;
  let syncLoop: Promise<void> | undefined;
  /** Claimed jobs waiting to start, in order (see syncOnce). */
  let starting: Promise<void> = Promise.resolve();
  let heartbeatTimer: NodeJS.Timeout | undefined;
  const shipper = new LogShipper(conn, (lease) => {
    const ex = executions.get(lease);
    if (ex) killStale(ex);
  });

  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  function killStale(ex: Execution): void {
    if (ex.stale) return;
    ex.stale = true;
    log(`lease of job ${ex.job.id} is no longer current: killing it, reporting nothing`);
    ex.cancel();
  }

  async function register(): Promise<void> {
    state.init();
    const identity = state.readIdentity();
    const machine = await detectResources({
      ...(options.resources && { overrides: options.resources }),
      ...(options.nvidiaSmi && { nvidiaSmi: options.nvidiaSmi }),
    });
    for (const w of machine.warnings) log(w);
    const maxJobs = options.maxJobs ?? Math.max(1, Math.floor(machine.resources.cpu));
    pool = new ResourcePool({ ...machine.resources, maxJobs });
    commands = createCommandExecutor({
      stateDir,
      hasGpus: machine.resources.gpus.length > 0,
      ...(options.killGraceMs !== undefined && { killGraceMs: options.killGraceMs }),
      log,
    });
    tasks = options.tasks ? createTaskExecutor({ tasks: options.tasks }) : undefined;
    if (options.cpuLoadGuard) guard = options.cpuLoadGuard;
    else if (options.cpuThreshold !== undefined)
      guard = createCpuLoadGuard({ thresholdPercent: options.cpuThreshold });
    const name = options.name ?? identity?.name ?? defaultAgentName();
    const body: AgentRegister = {
      name,
      hostname: machine.hostname,
      os: machine.os,
      arch: machine.arch,
      ...(options.version && { version: options.version }),
      capabilities: agentCapabilities({
        os: machine.os,
        arch: machine.arch,
        gpus: machine.resources.gpus,
        taskNames: tasks?.names ?? [],
        extra: options.capabilities ?? [],
      }),
      resources: machine.resources,
      ...(options.tier !== undefined && { tier: options.tier }),
      ...(options.pools?.length && { pools: [...options.pools] }),
      maxJobs,
    };

    const reg = await registerAgent({ conn, state, stateDir, options, identity, body, log });
    agentId = reg.agent.id;
    agentName = reg.agent.name;
    heartbeatMs = reg.heartbeatIntervalMs;
    log(`agent ${agentName} (${agentId}) registered with ${conn.url}`);
  }

  /** Re-attaches to the command attempts recorded before a restart. */
  async function recover(): Promise<void> {
    for (const rec of state.running()) {
      if (executions.has(rec.leaseId)) continue;
      try {
        pool!.reserve(rec.leaseId, { cpu: rec.cpu, memoryMb: rec.memoryMb, gpus: rec.gpus });
      } catch {
        // Over-committed after an override change: run it anyway, it is already running.
      }
      let run;
      try {
        run = await commands!.attach(rec.jobDir, {
          logOffset: rec.logOffset,
          ...jobCallbacks(rec, rec),
        });
      } catch (err) {
        // Its job directory is gone: nothing left to follow or kill; the server's lease
        // timeout retries the job.
        log(`cannot re-attach to job ${rec.jobId}: ${errMessage(err)}`);
        pool!.release(rec.leaseId);
        state.deleteRunning(rec);
        continue;
      }
      log(`re-attached to job ${rec.jobId} (attempt ${rec.attempt})`);
      track(rec, 'command', run.done, () => run.cancel(), rec);
    }
    if (executions.size > 0) await heartbeat();
  }

  function jobCallbacks(ids: { jobId: string; leaseId: string }, rec?: RunningRecord) {
    const callbacks: RunCallbacks = {
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
    return callbacks;
  }

  function track(
    ids: { jobId: string; leaseId: string; attempt: number },
    kind: 'command' | 'task',
    done: Promise<JobOutcome>,
    cancel: () => void,
    rec?: RunningRecord,
  ): void {
    const ex: Execution = {
      job: { id: ids.jobId, leaseId: ids.leaseId, attempt: ids.attempt },
      kind,
      cancel,
      stale: false,
      handback: false,
      done: Promise.resolve(),
    };
    executions.set(ids.leaseId, ex);
    ex.done = done.then((outcome) => {
      try {
        // Recorded at once; it is sent only after the job's output (pendingCompletions).
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
      } catch (err) {
        // The state directory failed (disk full?): the server's lease timeout decides instead.
        log(`could not record the outcome of job ${ids.jobId}: ${errMessage(err)}`);
      } finally {
        pool?.release(ids.leaseId);
        executions.delete(ids.leaseId);
        shipper.forget(ids.leaseId);
        if (!ex.stale && !ex.handback) {
          if (!shipper.waiting(ids.leaseId)) scheduleReport();
          else
            void shipper.flushAll().then(() => {
              scheduleReport();
              poke();
            });
        }
        poke();
      }
    });
  }

  /**
   * Finished attempts ride on the next sync. While a sync is parked they go at once instead,
   * all that ended in the same turn of the event loop in one `sync` with `max: 0` (which the
   * server answers without waiting), so a lone job's result is not held for the long poll and
   * a burst of short jobs costs one request, not one per job.
   */
  function scheduleReport(): void {
    if (reportArmed || reporting || !parked || stopping) return;
    reportArmed = true;
    setImmediate(() => {
      reportArmed = false;
      void sendReports();
    });
  }

  async function sendReports(): Promise<void> {
    const batch = parked && !stopping ? pendingCompletions() : [];
    if (batch.length === 0) return;
    reporting = true;
    for (const c of batch) sending.add(keyOf(c));
    let sent = false;
    try {
      const res = await conn.once((c) => c.sync({ completions: batch, max: 0, waitMs: 0 }));
      applyAcks(batch, res.acks);
      cancelLeases(res.cancel);
      sent = true;
    } catch {
      // They stay in the outbox and go with the sync loop's next request.
    } finally {
      for (const c of batch) sending.delete(keyOf(c));
      reporting = false;
      if (sent) scheduleReport(); // what ended while this batch was out
      poke();
    }
  }

  /** The server is done with each acknowledged completion: applied, or refused as stale. */
  function applyAcks(sent: readonly Completion[], acks: ReadonlyArray<{ jobId: string }>): void {
    state.outbox.ack(
      acks.flatMap((ack, i) => {
        const c = sent[i]?.jobId === ack.jobId ? sent[i] : sent.find((x) => x.jobId === ack.jobId);
        return c ? [c] : [];
      }),
    );
  }

  /** Holds the job's slot (and resources) from the moment its claim arrives. */
  function reserve(job: ClaimedJob): void {
    try {
      pool!.reserve(job.leaseId, { cpu: job.cpu, memoryMb: job.memoryMb, gpus: job.gpus });
    } catch (err) {
      log(`job ${job.id} does not fit here (${errMessage(err)}); running it anyway`);
    }
  }

  /** Runs a reserved job (see `reserve`). */
  async function startJob(job: ClaimedJob): Promise<void> {
    const isTask = job.payload.task !== undefined && job.payload.command === undefined;
    if (isTask) {
      if (!tasks) {
        track(
          { jobId: job.id, leaseId: job.leaseId, attempt: job.attempt },
          'task',
          Promise.resolve(failed('NO_HANDLER', 'this agent has no task handlers', { wallSec: 0 })),
          () => undefined,
        );
        return;
      }
      const run = tasks.start(job, jobCallbacks({ jobId: job.id, leaseId: job.leaseId }));
      track({ jobId: job.id, leaseId: job.leaseId, attempt: job.attempt }, 'task', run.done, () =>
        run.cancel(),
      );
      return;
    }
    let jobDir: string;
    try {
      jobDir = jobDirPath(stateDir, job.id, job.attempt);
    } catch (err) {
      track(
        { jobId: job.id, leaseId: job.leaseId, attempt: job.attempt },
        'command',
        Promise.resolve(failed('SPAWN_FAILED', errMessage(err), { wallSec: 0 })),
        () => undefined,
      );
      return;
    }
    const rec: RunningRecord = {
      jobId: job.id,
      leaseId: job.leaseId,
      attempt: job.attempt,
      jobDir,
      cpu: job.cpu,
      memoryMb: job.memoryMb,
      gpus: job.gpus,
      logOffset: 0,
    };
    // Registered before the supervisor starts, so a cancel that arrives meanwhile finds it.
    let cancelled = false;
    let cancelRun: () => void = () => (cancelled = true);
    let resolveDone!: (o: JobOutcome) => void;
    const done = new Promise<JobOutcome>((r) => (resolveDone = r));
    // With its record: when it ends, the record goes (and its directory, a while later).
    track(rec, 'command', done, () => cancelRun(), rec);
    try {
      // Recorded before the supervisor starts: an agent killed in between still finds (and
      // follows or kills) the attempt after its restart.
      state.putRunning(rec);
      const run = await commands!.start(job, jobCallbacks(rec, rec));
      cancelRun = () => run.cancel();
      if (cancelled) run.cancel();
      void run.done.then(resolveDone);
    } catch (err) {
      resolveDone(
        failed('SPAWN_FAILED', `could not start the job: ${errMessage(err)}`, { wallSec: 0 }),
      );
    }
  }

  function freeSlots(): number {
    if (!pool || draining || stopping) return 0;
    if (guard && !guard.mayTakeWork()) return 0;
    return Math.max(0, pool.free().jobs);
  }

  function cancelLeases(leases: readonly string[]): void {
    for (const lease of leases) {
      const ex = executions.get(lease);
      if (ex) {
        log(`canceling job ${ex.job.id}`);
        ex.cancel();
      }
    }
  }

  async function heartbeat(): Promise<void> {
    // Every lease held: running, or finished and not yet acknowledged (the server hands back
    // running attempts this list lacks).
    const leases = [
      ...new Set([...executions.keys(), ...state.outbox.list().map((c) => c.leaseId)]),
    ];
    const hb = await conn.call('heartbeat', (c) =>
      c.heartbeat({
        leases,
        // Only our own stop: echoing an admin drain back would make it stick after a resume.
        draining: stopping,
        ...(guard?.loadPercent() !== undefined && { load: guard.loadPercent()! / 100 }),
      }),
    );
    for (const lease of hb.stale) {
      const ex = executions.get(lease);
      if (ex) killStale(ex);
    }
    cancelLeases(hb.cancel);
    if (hb.drain !== draining) {
      draining = hb.drain;
      log(draining ? 'draining: taking no new work' : 'taking work again');
      poke();
    }
  }

  /** Revoked (or the server lost our credential): take no more work, tell the owner once. */
  let fatalSent = false;
  function fatal(err: unknown): void {
    draining = true;
    poke();
    if (fatalSent) return;
    fatalSent = true;
    log(`the server refused this agent's credential (revoked?): ${errMessage(err)}`);
    options.onFatal?.(
      new AgentStartError('REFUSED', `${conn.url} refused this agent: ${errMessage(err)}`, {
        cause: err,
      }),
    );
  }

  function scheduleHeartbeat(): void {
    heartbeatTimer = setTimeout(() => {
      heartbeat()
        .catch((err: unknown) => {
          if (refused(err)) fatal(err);
          else if (!(err instanceof StoppedError)) log(`heartbeat failed: ${errMessage(err)}`);
        })
        .finally(() => {
          if (!conn.closed) scheduleHeartbeat();
        });
    }, heartbeatMs);
    // Not unref'd: a running agent is a daemon and keeps its process alive until stop().
  }

  /** The pending reports, without those already on their way or whose output is not shipped yet. */
  function pendingCompletions(limit = MAX_COMPLETIONS_PER_SYNC): Completion[] {
    return state.outbox.list(limit, sending, shipped);
  }
  const shipped = (c: Completion) => !shipper.waiting(c.leaseId);

  async function syncOnce(max: number, waitMs: number): Promise<void> {
    let completions = pendingCompletions();
    if (completions.length > 0) {
      // Output first: once the completion is in, the lease is over and its output refused.
      await shipper.flushAll();
      completions = pendingCompletions();
    }
    for (const c of completions) sending.add(keyOf(c));
    parked = waitMs > 0;
    let res;
    try {
      res = await conn.call('sync', (c) => c.sync({ completions, max, waitMs }));
    } finally {
      parked = false;
      for (const c of completions) sending.delete(keyOf(c));
    }
    applyAcks(completions, res.acks);
    cancelLeases(res.cancel);
    if (res.drain !== draining) {
      draining = res.drain;
      log(draining ? 'draining: taking no new work' : 'taking work again');
    }
    const jobs = res.jobs;
    if (max > 0) lastClaimShort = jobs.length < max;
    if (jobs.length === 0) return;
    if (stopping) {
      for (const job of jobs) handBack(job);
      return;
    }
    // The jobs hold their slots now, so the next sync asks only for what is left, but they
    // start after this turn of the event loop: that sync (with the completions that are
    // ready) is written first and the server works on it while this batch runs. Taking turns
    // instead left each side idle while the other worked: 498-job syncs took 25-60 ms at the
    // server and the batch 11 ms at the agent, one after the other. Pipelined, a sync is at
    // the server 96 % of the time (median gap 0.5 ms) and the server is busy 91 % instead of
    // 81 % (one agent, 30k no-op tasks, A/B back to back at load average ~2).
    // When no sync follows (every slot taken, nothing to report: a one-slot agent's lone job),
    // that turn would only delay the start: 40–50 µs of a lone job's ~1 ms (timed in the
    // agent, 1,000 sequential no-op tasks).
    for (const job of jobs) reserve(job);
    const syncFollows = freeSlots() > 0 || pendingCompletions(1).length > 0;
    starting = syncFollows
      ? starting.then(() => new Promise<void>((r) => setImmediate(r))).then(() => startAll(jobs))
      : starting.then(() => startAll(jobs));
  }

  async function startAll(jobs: readonly ClaimedJob[]): Promise<void> {
    for (const job of jobs) {
      if (stopping) {
        pool?.release(job.leaseId);
        handBack(job);
        continue;
      }
      try {
        await startJob(job);
      } catch (err) {
        // startJob records its own failures; this is a bug, but the loop must go on.
        log(`could not start job ${job.id}: ${errMessage(err)}`);
      }
    }
  }

  /** A claimed job this agent will not run: given back on the next report. */
  function handBack(job: ClaimedJob): void {
    try {
      state.outbox.put({ jobId: job.id, leaseId: job.leaseId, outcome: 'handback' });
    } catch (err) {
      log(`could not record the handback of job ${job.id}: ${errMessage(err)}`);
    }
  }

  /**
   * Jobs per claim: half the slots (at least one), so that one batch runs while the next sync
   * is at the server (see syncOnce).
   */
  function claimCap(): number {
    return pool ? Math.max(1, Math.ceil(pool.options.maxJobs / 2)) : 0;
  }

  async function loop(): Promise<void> {
    const waitMs = options.syncWaitMs ?? DEFAULT_SYNC_WAIT_MS;
    while (!stopping) {
      try {
        const max = Math.min(freeSlots(), claimCap());
        const pending = pendingCompletions(1).length;
        const room = pool && !fatalSent && (!guard || guard.mayTakeWork()) ? pool.free().jobs : 0;
        if (max === 0 && pending === 0 && draining && room > 0) {
          // Drained by an operator: the server parks this sync without handing out work, and a
          // resume releases it at once (a heartbeat would bring the news only after up to
          // heartbeatIntervalMs).
          await syncOnce(room, waitMs);
          continue;
        }
        if (max === 0 && pending === 0) {
          // Full (or draining): wait for a job to end; heartbeats carry cancels meanwhile.
          let waitTimer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            // Not unref'd: an idle, draining agent has nothing else keeping its process alive.
            waitTimer = setTimeout(resolve, guard ? 1000 : waitMs);
          });
          clearTimeout(waitTimer);
          wake = undefined;
          if (stopping) break;
          if (freeSlots() === 0 && pendingCompletions(1).length === 0) {
            // Nothing to do: still tell the server we are alive and learn about drains.
            await syncOnce(0, 0);
          }
          continue;
        }
        // After a full claim more work is likely queued: ask without a hold, so that the jobs
        // ending meanwhile ride on the next sync rather than go in a report of their own (a
        // sync and a report per batch cost the server 64-66 µs per job instead of 60-61).
        // The long poll (and the report that goes at once while it is held) comes after a
        // short claim — or at once when nothing runs here, as nothing can end meanwhile: a
        // one-slot agent's every claim is full, and asking without a hold cost each lone job
        // a round trip to the server before the agent was parked for the next (shell `true`
        // jobs, one at a time: p50 ~1 ms of ~9).
        const hold = lastClaimShort || executions.size === 0;
        await syncOnce(max, max > 0 && hold ? waitMs : 0);
      } catch (err) {
        if (err instanceof StoppedError || stopping) break;
        if (refused(err)) {
          fatal(err);
          break;
        }
        log(`sync failed: ${errMessage(err)}`);
        await conn.sleep(1000);
      }
    }
  }

  return {
    get id() {
      return agentId;
    },
    get name() {
      return agentName;
    },
    stateDir,
    running: () =>
      [...executions.values()].map((e) => ({
        jobId: e.job.id,
        leaseId: e.job.leaseId,
        attempt: e.job.attempt,
        kind: e.kind,
      })),

    async start() {
      await register();
      scheduleHeartbeat();
      await recover();
      jobDirs.removeLeftovers(state.running().map((r) => r.jobDir));
      // Reports kept from before a restart go first, on the first sync.
      syncLoop = loop();
    },

    async stop({ drainMs = 30_000 } = {}) {
      if (stopping) return;
      stopping = true;
      poke();
      if (agentId !== undefined) {
        await Promise.race([
          heartbeat().catch(() => undefined), // draining: true releases our parked sync
          conn.sleep(2000),
        ]);
      }
      await starting; // claimed jobs start, or are handed back, first
      const all = () => Promise.all([...executions.values()].map((e) => e.done));
      if (executions.size > 0) {
        log(`stopping: waiting up to ${drainMs} ms for ${executions.size} running job(s)`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, drainMs)))]);
        clearTimeout(timer);
        for (const ex of executions.values()) {
          ex.handback = true;
          ex.cancel();
        }
        await all();
      }
      await Promise.race([syncLoop, conn.sleep(2000)]);
      clearTimeout(heartbeatTimer);
      await shipper.flushAll();
      // Hand in what is left (handbacks, unsent reports) once; what fails stays in the outbox.
      const left = state.outbox.list(MAX_COMPLETIONS_PER_SYNC);
      if (left.length > 0 && agentId !== undefined) {
        try {
          const res = await conn.once((c) => c.sync({ completions: left, max: 0, waitMs: 0 }));
          applyAcks(left, res.acks);
        } catch (err) {
          log(
            `could not report ${left.length} attempt(s) now; they stay in the outbox: ${errMessage(err)}`,
          );
        }
      }
      guard?.close();
      await conn.close();
      await syncLoop?.catch(() => undefined);
      state.close();
      commands?.close();
      jobDirs.stop();
    },
  };
}

const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));
