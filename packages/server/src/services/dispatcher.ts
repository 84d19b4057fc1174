import {
  agentAccepts,
  freeResources,
  tierCutoff,
  type AgentRecord,
  type Clock,
  type JobClass,
  type JobRecord,
  type PeerAgent,
  type Reservation,
} from '@offload/core';
import type { ClaimedAttempt, Store } from '@offload/store';

interface AgentEntry {
  agent: AgentRecord;
  loadedAt: number;
  /** Attempts this agent runs, by job id: the scheduler's view of its free resources. */
  running: Map<string, Reservation>;
  /** Ids of the classes this agent accepts, checked up to `acceptedUpTo`. */
  accepted: number[];
  acceptedUpTo: number;
  /** When lastSeenAt was last written, to write it at most once a second. */
  seenWrittenAt: number;
}

interface Parked {
  agentId: string;
  release: (reason: WakeReason) => void;
}

export type WakeReason = 'work' | 'poke' | 'timeout';

/** How long a cached agent record is trusted before it is read again (another server may have drained it). */
const AGENT_TTL_MS = 1_000;

/**
 * Matches agents to work (SPEC §2). Keeps in memory what the decision needs — the
 * requirement classes, which classes each agent accepts, paused queues, what each agent
 * runs — so a claim is: pick the accepted, non-empty, unpaused classes, apply tier grace,
 * and ask the store for one indexed claim over them. Agents with nothing to do park here
 * (long poll) and are released by a wake-up when fitting work is queued: no polling loop.
 */
export class Dispatcher {
  private readonly classes = new Map<number, JobClass>();
  private lastClassId = 0;
  private classesStale = true;
  private readonly agents = new Map<string, AgentEntry>();
  private readonly parked = new Set<Parked>();
  private paused = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: { tierGraceMs: number },
  ) {}

  async init(): Promise<void> {
    this.paused = await this.store.pausedQueues();
    await this.refreshClasses();
    for (const agent of await this.store.agentsList({})) {
      if (agent.state === 'revoked') continue;
      const entry = this.entryFor(agent);
      for (const job of await this.store.jobsRunningOnAgent({ agentId: agent.id }))
        entry.running.set(job.id, reservationOf(job));
    }
  }

  /** The agent's record, read again from the store when the cached one is older than a second. */
  async agent(agentId: string): Promise<AgentRecord | null> {
    const entry = this.agents.get(agentId);
    if (entry && performance.now() - entry.loadedAt < AGENT_TTL_MS) return entry.agent;
    const agent = await this.store.agentGet({ id: agentId });
    if (!agent) {
      this.agents.delete(agentId);
      return null;
    }
    this.agentChanged(agent);
    return agent;
  }

  /** A registration, drain, resume, revoke or state change: refresh the cache and wake whoever it concerns. */
  agentChanged(agent: AgentRecord): void {
    const entry = this.agents.get(agent.id);
    if (agent.state === 'revoked') {
      this.agents.delete(agent.id);
      this.poke(agent.id);
      return;
    }
    const reshaped =
      !entry ||
      entry.agent.state !== agent.state ||
      entry.agent.tier !== agent.tier ||
      JSON.stringify([
        entry.agent.capabilities,
        entry.agent.pools,
        entry.agent.resources,
        entry.agent.maxJobs,
        entry.agent.name,
      ]) !==
        JSON.stringify([
          agent.capabilities,
          agent.pools,
          agent.resources,
          agent.maxJobs,
          agent.name,
        ]);
    const e = this.entryFor(agent);
    if (reshaped) {
      e.accepted = [];
      e.acceptedUpTo = 0;
      this.poke(agent.id);
    }
  }

  /** True at most once a second per agent: whether to write lastSeenAt now. */
  shouldRecordSeen(agentId: string, now: number): boolean {
    const entry = this.agents.get(agentId);
    if (!entry) return true;
    if (now - entry.seenWrittenAt < 1_000) return false;
    entry.seenWrittenAt = now;
    return true;
  }

  setPaused(queue: string, paused: boolean): void {
    if (paused) this.paused.add(queue);
    else if (this.paused.delete(queue)) this.wakeAll();
  }

  /**
   * Jobs changed state (any source): track reservations, wake agents for newly queued work, and
   * wake an agent whose own job ended: its parked claim may now fit work it could not before
   * (a long poll that asked for 2 jobs while its CPUs were taken would otherwise sleep out its
   * wait with fitting work queued).
   */
  jobsChanged(jobs: readonly JobRecord[]): void {
    let queued: JobClass[] | null = null;
    let freed: Set<string> | null = null;
    for (const job of jobs) {
      if (job.agentId !== null) {
        const entry = this.agents.get(job.agentId);
        if (entry) {
          if (job.state === 'running') entry.running.set(job.id, reservationOf(job));
          else if (entry.running.delete(job.id)) (freed ??= new Set()).add(job.agentId);
        }
      }
      if (job.state === 'queued')
        (queued ??= []).push({
          queue: job.queue,
          requires: job.requires,
          targetAgent: job.targetAgent,
          pool: job.pool,
        });
    }
    if (queued) this.wake(queued);
    if (freed && this.parked.size > 0)
      for (const p of this.parked) if (freed.has(p.agentId)) p.release('work');
  }

  /** New jobs may have created requirement classes. */
  classesMayHaveChanged(): void {
    this.classesStale = true;
  }

  /**
   * Claims up to `max` jobs for the agent, waiting up to `waitMs` (wall time) for work.
   * Returns early with no jobs when poked (a cancel, drain or resume for this agent) so the
   * caller can deliver the command. A draining agent claims nothing but parks all the same,
   * so a resume reaches it at once.
   */
  async claim(
    agent: AgentRecord,
    max: number,
    waitMs: number,
    /** Aborted when the agent hung up: claiming for it then would strand jobs until the lease runs out. */
    gone?: AbortSignal,
  ): Promise<{ jobs: ClaimedAttempt[]; reason: WakeReason }> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      if (gone?.aborted) return { jobs: [], reason: 'timeout' };
      const { jobs, graced } = await this.tryClaim(agent, max);
      if (jobs.length > 0) return { jobs, reason: 'work' };
      const remaining = deadline - performance.now();
      if (remaining <= 0) return { jobs, reason: 'timeout' };
      // Graced work becomes claimable when its grace ends, without a new submit: look again then.
      const reason = await this.park(
        agent.id,
        graced ? Math.min(remaining, this.options.tierGraceMs) : remaining,
        gone,
      );
      if (reason === 'poke') return { jobs: [], reason };
      if (reason === 'timeout' && !graced) return { jobs: [], reason };
      const fresh = await this.agent(agent.id);
      if (!fresh || fresh.state !== 'online') return { jobs: [], reason: 'poke' };
      agent = fresh;
    }
  }

  /** Releases a parked claim of this agent (a cancel or drain to deliver). */
  poke(agentId: string): void {
    for (const p of this.parked) if (p.agentId === agentId) p.release('poke');
  }

  /** Releases every parked claim (shutdown, queue resume). */
  wakeAll(reason: WakeReason = 'work'): void {
    for (const p of this.parked) p.release(reason);
  }

  get parkedCount(): number {
    return this.parked.size;
  }

  private async tryClaim(
    agent: AgentRecord,
    max: number,
  ): Promise<{ jobs: ClaimedAttempt[]; graced: boolean }> {
    if (agent.state !== 'online' || max <= 0) return { jobs: [], graced: false };
    if (this.classesStale || this.store.capabilities.multiServer) await this.refreshClasses();
    const entry = this.entryFor(agent);
    const accepted = this.acceptedClasses(entry);
    if (accepted.length === 0) return { jobs: [], graced: false };
    const nonEmpty = await this.store.classesWithQueued();
    const now = this.clock.now();
    const candidates: Array<{ classId: number; queuedBefore: number | null }> = [];
    let graced = false;
    for (const id of accepted) {
      if (!nonEmpty.has(id)) continue;
      const c = this.classes.get(id)!;
      if (this.paused.has(c.queue)) continue;
      const queuedBefore = tierCutoff(agent, c, this.peers(), now, this.options.tierGraceMs);
      if (queuedBefore !== null) graced = true;
      candidates.push({ classId: id, queuedBefore });
    }
    if (candidates.length === 0) return { jobs: [], graced };
    const jobs = await this.store.jobsClaim({ agent, max, classes: candidates, now });
    for (const c of jobs) entry.running.set(c.job.id, reservationOf(c.job));
    return { jobs, graced };
  }

  private park(agentId: string, ms: number, gone?: AbortSignal): Promise<WakeReason> {
    return new Promise((resolve) => {
      const onGone = () => parked.release('timeout');
      const parked: Parked = {
        agentId,
        release: (reason) => {
          clearTimeout(timer);
          gone?.removeEventListener('abort', onGone);
          this.parked.delete(parked);
          resolve(reason);
        },
      };
      const timer = setTimeout(() => parked.release('timeout'), ms);
      gone?.addEventListener('abort', onGone, { once: true });
      this.parked.add(parked);
    });
  }

  private wake(classes: readonly JobClass[]): void {
    if (this.parked.size === 0) return;
    const distinct = new Map<string, JobClass>();
    for (const c of classes) if (!this.paused.has(c.queue)) distinct.set(JSON.stringify(c), c);
    for (const p of this.parked) {
      const entry = this.agents.get(p.agentId);
      if (!entry) continue;
      if (entry.agent.state !== 'online') continue;
      for (const c of distinct.values()) {
        if (agentAccepts(entry.agent, c)) {
          p.release('work');
          break;
        }
      }
    }
  }

  private *peers(): Iterable<PeerAgent> {
    for (const e of this.agents.values()) {
      if (e.agent.state !== 'online') continue;
      yield { agent: e.agent, free: freeResources(e.agent, [...e.running.values()]) };
    }
  }

  private acceptedClasses(entry: AgentEntry): number[] {
    if (entry.acceptedUpTo < this.lastClassId) {
      for (const [id, c] of this.classes) {
        if (id > entry.acceptedUpTo && agentAccepts(entry.agent, c)) entry.accepted.push(id);
      }
      entry.acceptedUpTo = this.lastClassId;
    }
    return entry.accepted;
  }

  private async refreshClasses(): Promise<void> {
    this.classesStale = false;
    for (const { id, jobClass } of await this.store.classesList({ afterId: this.lastClassId })) {
      this.classes.set(id, jobClass);
      if (id > this.lastClassId) this.lastClassId = id;
    }
  }

  private entryFor(agent: AgentRecord): AgentEntry {
    let entry = this.agents.get(agent.id);
    if (!entry) {
      entry = {
        agent,
        loadedAt: performance.now(),
        running: new Map(),
        accepted: [],
        acceptedUpTo: 0,
        seenWrittenAt: 0,
      };
      this.agents.set(agent.id, entry);
    } else {
      entry.agent = agent;
      entry.loadedAt = performance.now();
    }
    return entry;
  }
}

function reservationOf(job: JobRecord): Reservation {
  return { cpu: job.requires.cpu, memoryMb: job.requires.memoryMb, gpus: job.gpus };
}
