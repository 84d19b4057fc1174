import { join } from 'node:path';
import type { AgentRegister, ClaimedJob, Completion } from '@offload/protocol';
import { createCommandExecutor, type CommandExecutor } from '../executors/command-executor.js';
import { createTaskExecutor } from '../executors/task-executor.js';
import { createCpuLoadGuard, type CpuLoadGuard } from '../resources/cpu-load.js';
import { agentCapabilities, detectResources } from '../resources/detect-resources.js';
import { ResourcePool } from '../resources/resource-pool.js';
import { AgentState, defaultAgentName, defaultStateDir } from './agent-state.js';
import { AgentStartError, type Agent, type AgentOptions } from './agent-api.js';
import { Connection, StoppedError } from './connection.js';
import { JobDirs } from './job-dirs.js';
import { JobRuns } from './job-runs.js';
import { LogShipper } from './log-shipper.js';
import { refused, registerAgent } from './registration.js';
import { keyOf } from './keyed-journal.js';
import { errMessage } from '../error-message.js';

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
  let runs: JobRuns | undefined; // from registration on
  const sending = new Set<string>(); // outbox keys on their way to the server
  let pool: ResourcePool | undefined;
  let commands: CommandExecutor | undefined;
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
  const shipper = new LogShipper(conn, (lease) => runs?.killStale(lease));

  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

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
    const tasks = options.tasks ? createTaskExecutor({ tasks: options.tasks }) : undefined;
    runs = new JobRuns({
      state,
      stateDir,
      jobDirs,
      shipper,
      pool,
      commands,
      tasks,
      log,
      ended: attemptEnded,
    });
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

  /** An attempt ended: its slot is free, and its completion (if any) goes once its output has. */
  function attemptEnded(leaseId: string, report: boolean): void {
    if (report) {
      if (!shipper.waiting(leaseId)) scheduleReport();
      else
        void shipper.flushAll().then(() => {
          scheduleReport();
          poke();
        });
    }
    poke();
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
      runs?.cancel(res.cancel);
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

  function freeSlots(): number {
    if (!pool || draining || stopping) return 0;
    if (guard && !guard.mayTakeWork()) return 0;
    return Math.max(0, pool.free().jobs);
  }

  async function heartbeat(): Promise<void> {
    // Every lease held: running, or finished and not yet acknowledged (the server hands back
    // running attempts this list lacks).
    const leases = [
      ...new Set([...(runs?.leases() ?? []), ...state.outbox.list().map((c) => c.leaseId)]),
    ];
    const hb = await conn.call('heartbeat', (c) =>
      c.heartbeat({
        leases,
        // Only our own stop: echoing an admin drain back would make it stick after a resume.
        draining: stopping,
        ...(guard?.loadPercent() !== undefined && { load: guard.loadPercent()! / 100 }),
      }),
    );
    for (const lease of hb.stale) runs?.killStale(lease);
    runs?.cancel(hb.cancel);
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
    runs?.cancel(res.cancel);
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
    for (const job of jobs) runs!.reserve(job);
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
        await runs!.start(job);
      } catch (err) {
        // start() records its own failures; this is a bug, but the loop must go on.
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
        const hold = lastClaimShort || !runs?.size;
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
    running: () => runs?.list() ?? [],

    async start() {
      await register();
      scheduleHeartbeat();
      await runs!.recover();
      if (runs!.size > 0) await heartbeat();
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
      if (runs && runs.size > 0) {
        log(`stopping: waiting up to ${drainMs} ms for ${runs.size} running job(s)`);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([runs.allDone(), new Promise((r) => (timer = setTimeout(r, drainMs)))]);
        clearTimeout(timer);
        runs.handBackAll();
        await runs.allDone();
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
