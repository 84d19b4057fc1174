import {
  agentAccepts,
  jobClassOf,
  tierCutoff,
  type AgentRecord,
  type Clock,
  type JobClass,
  type JobRecord,
} from '@offload/core';
import type { ClaimedAttempt, ClaimRequest, Store } from '@offload/store';
import { KnownAgents } from './known-agents.js';
import { KnownClasses } from './known-classes.js';

/**
 * How long a poke is remembered: far longer than a sync holds a mark before its claim checks
 * it (a read of its cancels, one claim against the store: milliseconds, seconds in a store
 * stall).
 */
const POKE_MEMORY_MS = 10 * 60_000;

interface Parked {
  agentId: string;
  max: number;
  release: (reason: WakeReason) => void;
  /** Ends the wait for a hand-off: the claim then waits for the jobs the submit claims for it. */
  handOff: () => (jobs: ClaimedAttempt[]) => void;
}

/**
 * New jobs to hand to a parked claim in the submit's own transaction (Store
 * jobsSubmitAndClaim): one commit, not two, and no wake-up round through the dispatcher.
 * `deliver` must be called exactly once, with what the store claimed (none when it failed).
 */
export interface Handoff {
  readonly request: ClaimRequest;
  deliver(jobs: ClaimedAttempt[]): void;
}

/**
 * A claim looking at the store (between its decision that nothing fits and its park). A
 * wake-up for work (or shutdown) meant for its agent in that window is kept here, and the
 * claim looks again (or returns) instead of parking through it. On PostgreSQL the window is
 * a round trip or more, and a job committed and announced in it waited out the agent's whole
 * long poll: 1,000 lone jobs had a p50 of ~13 ms, a p99 of ~33 ms and a mean of ~30 ms.
 * Pokes need no record: the claim compares the agent's poke count with its mark.
 */
interface Looking {
  agentId: string;
  missed: 'work' | 'timeout' | null;
}

export type WakeReason = 'work' | 'poke' | 'timeout';

/**
 * Matches agents to work (SPEC §2). Keeps in memory what the decision needs — the
 * requirement classes, which classes each agent accepts, paused queues, what each agent
 * runs — so a claim is: pick the accepted, non-empty, unpaused classes, apply tier grace,
 * and ask the store for one indexed claim over them. Agents with nothing to do park here
 * (long poll) and are released by a wake-up when fitting work is queued: no polling loop.
 */
export class Dispatcher {
  private readonly classes: KnownClasses;
  private readonly agents: KnownAgents;
  private readonly parked = new Set<Parked>();
  private readonly looking = new Set<Looking>();
  /**
   * Each agent's last poke, numbered from one sequence for all agents: a claim, or a caller
   * that read the agent's cancels before it, tells from its mark whether one came since.
   * Oldest first; see poke() for why entries are dropped after POKE_MEMORY_MS.
   */
  private readonly pokes = new Map<string, { seq: number; at: number }>();
  private pokeSeq = 0;
  private paused = new Set<string>();
  /** Bumped by each local pause or resume: a read of the flags that overlapped one is stale. */
  private pausedVersion = 0;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: { tierGraceMs: number },
  ) {
    this.classes = new KnownClasses(store);
    this.agents = new KnownAgents(store, this.classes, (id) => this.poke(id));
  }

  async init(): Promise<void> {
    this.paused = await this.store.pausedQueues();
    await this.classes.refresh();
    await this.agents.load();
  }

  /** The agent's record, read again from the store when the cached one is older than a second. */
  agent(agentId: string): Promise<AgentRecord | null> {
    return this.agents.read(agentId);
  }

  /** A registration, drain, resume, revoke or state change: refresh the cache and wake whoever it concerns. */
  agentChanged(agent: AgentRecord): void {
    this.agents.changed(agent);
  }

  /** True at most once a second per agent: whether to write lastSeenAt now. */
  shouldRecordSeen(agentId: string, now: number): boolean {
    return this.agents.shouldRecordSeen(agentId, now);
  }

  setPaused(queue: string, paused: boolean): void {
    this.pausedVersion++;
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
    let queued: Map<string, JobClass> | null = null;
    let freed: Set<string> | null = null;
    for (const job of jobs) {
      const agentFreed = this.agents.track(job);
      if (agentFreed !== null) (freed ??= new Set()).add(agentFreed);
      if (job.state === 'queued') {
        const c = jobClassOf(job);
        // Looked up so that a class not known here (created by another server, its delayed
        // job promoted here) is read before the next claim.
        this.classes.idOf(c);
        (queued ??= new Map()).set(this.classes.keyOf(c), c);
      }
    }
    if (queued) this.wake(queued);
    if (freed) this.signal((id) => freed.has(id), 'work');
  }

  /**
   * Another server queued work in these requirement classes (its change feed): wake the
   * agents parked here that accept one. An id not cached yet is a class created there:
   * read the new classes first.
   */
  async wakeForClasses(ids: readonly number[]): Promise<void> {
    this.classes.heardOf(ids);
    if (!this.anyoneWaits() || ids.length === 0) return;
    await this.classes.refresh();
    const classes = new Map<string, JobClass>();
    for (const id of ids) {
      const c = this.classes.get(id);
      if (c) classes.set(this.classes.keyOf(c), c);
    }
    this.wake(classes);
  }

  /**
   * Another server changed these agents (registered, drained, resumed, revoked, reaped):
   * read them again and wake a parked claim whose agent changed shape or state, so the
   * drain or revoke reaches it now. Returns the records read (missing ones left out).
   */
  agentsChangedElsewhere(ids: readonly string[]): Promise<AgentRecord[]> {
    return this.agents.changedElsewhere(ids);
  }

  /**
   * Another server changed these jobs. Those that left 'running' free the resources this
   * server reserved for them (an agent that failed over finished it there), releasing its
   * parked claim; a running job written there (a cancel request) pokes its agent if parked
   * here, so the cancel is delivered now. Only ids: nothing is read.
   */
  jobsChangedElsewhere(jobs: ReadonlyArray<{ id: string; from: string | null; to: string }>): void {
    let left: Set<string> | null = null;
    let touched: Set<string> | null = null;
    for (const j of jobs) {
      if (j.from !== 'running') continue;
      if (j.to === 'running') (touched ??= new Set()).add(j.id);
      else (left ??= new Set()).add(j.id);
    }
    if (left === null && touched === null) return;
    const { freed, poked } = this.agents.trackElsewhere(left, touched);
    for (const id of poked) this.poke(id);
    this.signal((id) => freed.has(id), 'work');
  }

  /** Reads the paused queues again (another server paused or resumed one); wakes all when one resumed. */
  async reloadPaused(): Promise<void> {
    const before = this.paused;
    this.paused = await this.readPaused();
    for (const q of before) {
      if (!this.paused.has(q)) {
        this.wakeAll();
        return;
      }
    }
  }

  /** Whether this server believes the queue is paused (tests, metrics). */
  isPaused(queue: string): boolean {
    return this.paused.has(queue);
  }

  /** After a gap in the change feed: read classes and pause flags again, and wake every parked claim once to look. */
  async resync(): Promise<void> {
    this.paused = await this.readPaused();
    await this.classes.refresh(true);
    this.agents.allStale();
    this.wakeAll();
  }

  /** The stored pause flags, read again if this server paused or resumed a queue meanwhile. */
  private async readPaused(): Promise<Set<string>> {
    for (;;) {
      const version = this.pausedVersion;
      const paused = await this.store.pausedQueues();
      if (version === this.pausedVersion) return paused;
    }
  }

  /** Jobs stored without passing through jobsChanged may have created requirement classes. */
  classesMayHaveChanged(): void {
    this.classes.mayHaveChanged();
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
    /**
     * pokeMark() taken before the caller read what to deliver (cancels): a poke since then
     * ends the claim at once, even one that came before the claim began.
     */
    pokedSince?: number,
  ): Promise<{ jobs: ClaimedAttempt[]; reason: WakeReason }> {
    const deadline = performance.now() + waitMs;
    // A poke at any point of the claim (or since the caller's mark) ends it.
    const mark = pokedSince ?? this.pokeMark(agent.id);
    for (;;) {
      if (gone?.aborted) return { jobs: [], reason: 'timeout' };
      if (this.pokeMark(agent.id) !== mark) return { jobs: [], reason: 'poke' };
      // The record as this server knows it now: a drain that returned after the caller read
      // the agent must stop this claim.
      agent = this.agents.get(agent.id)?.agent ?? agent;
      const look: Looking = { agentId: agent.id, missed: null };
      this.looking.add(look);
      let found;
      try {
        found = await this.tryClaim(agent, max);
      } finally {
        this.looking.delete(look);
      }
      const { jobs, graced } = found;
      if (jobs.length > 0) return { jobs, reason: 'work' };
      if (this.pokeMark(agent.id) !== mark) return { jobs, reason: 'poke' };
      if (look.missed === 'timeout') return { jobs, reason: look.missed };
      const remaining = deadline - performance.now();
      if (remaining <= 0) return { jobs, reason: 'timeout' };
      if (look.missed === 'work') continue; // work came while it looked: look again
      // Graced work becomes claimable when its grace ends, without a new submit: look again then.
      const woke = await this.park(
        agent.id,
        max,
        graced ? Math.min(remaining, this.options.tierGraceMs) : remaining,
        gone,
      );
      if (Array.isArray(woke)) {
        // Handed jobs by a submit; none if the store had nothing for it after all: look again.
        if (woke.length > 0) return { jobs: woke, reason: 'work' };
      } else if (woke === 'poke') return { jobs: [], reason: woke };
      else if (woke === 'timeout' && !graced) return { jobs: [], reason: woke };
      const fresh = await this.agent(agent.id);
      if (!fresh || fresh.state !== 'online') return { jobs: [], reason: 'poke' };
      agent = fresh;
    }
  }

  /**
   * A parked claim that could take some of these new jobs at once, taken out of the parked
   * set for the submit to claim for it in its own transaction; null when none fits. Only
   * for classes this server knows (a new class goes the usual way, by a wake-up), queued
   * now, in an unpaused queue, and without tier grace (a class a higher tier may take first
   * waits for its claim as usual).
   */
  handoff(jobs: readonly JobRecord[]): Handoff | null {
    if (this.parked.size === 0) return null;
    const ids = new Set<number>();
    for (const job of jobs) {
      if (job.state !== 'queued' || this.paused.has(job.queue)) continue;
      const id = this.classes.idOf(jobClassOf(job));
      if (id !== undefined) ids.add(id);
    }
    if (ids.size === 0) return null;
    const now = this.clock.now();
    for (const p of this.parked) {
      const entry = this.agents.get(p.agentId);
      if (!entry || entry.agent.state !== 'online') continue;
      const classes: Array<{ classId: number; queuedBefore: null }> = [];
      for (const id of this.agents.accepted(entry)) {
        if (!ids.has(id)) continue;
        const c = this.classes.get(id)!;
        if (
          tierCutoff(
            entry.agent,
            c,
            this.agents.peers(entry.agent),
            now,
            this.options.tierGraceMs,
          ) !== null
        )
          continue;
        classes.push({ classId: id, queuedBefore: null });
      }
      if (classes.length === 0) continue;
      const resume = p.handOff();
      return {
        request: { agent: entry.agent, max: p.max, classes, now },
        deliver: (claimed) => {
          this.agents.holds(entry, claimed);
          resume(claimed);
        },
      };
    }
    return null;
  }

  /**
   * Releases a parked claim of this agent (a cancel or drain to deliver).
   *
   * The record of a poke is needed only between a mark and the claim that checks it (a
   * sync reading its cancels, a claim reading the store): a parked claim is released by the
   * poke itself. So records older than POKE_MEMORY_MS are dropped, else every agent ever
   * poked (each registration pokes) stays here for the server's life, which a fleet of spot
   * instances makes long. Numbers come from one sequence, so a mark never equals a later
   * poke's, also after its agent's record was dropped; a claim that holds a mark across a
   * drop sees a changed mark and returns early, which costs a sync, not a command.
   */
  poke(agentId: string): void {
    const now = this.clock.now();
    this.pokes.delete(agentId); // to the end: the map stays oldest first
    this.pokes.set(agentId, { seq: ++this.pokeSeq, at: now });
    for (const [id, p] of this.pokes) {
      if (p.at > now - POKE_MEMORY_MS) break;
      this.pokes.delete(id);
    }
    this.signal((id) => id === agentId, 'poke');
  }

  /** The agent's poke mark: see claim's `pokedSince`. */
  pokeMark(agentId: string): number {
    return this.pokes.get(agentId)?.seq ?? 0;
  }

  /** Releases every parked claim (shutdown, queue resume). */
  wakeAll(reason: 'work' | 'timeout' = 'work'): void {
    this.signal(() => true, reason);
  }

  /** Whether a claim is parked or looking: otherwise no wake-up has anyone to reach. */
  private anyoneWaits(): boolean {
    return this.parked.size > 0 || this.looking.size > 0;
  }

  /** Releases the parked claims of the matching agents, and tells those looking right now. */
  private signal(matches: (agentId: string) => boolean, reason: WakeReason): void {
    for (const p of this.parked) if (matches(p.agentId)) p.release(reason);
    if (reason === 'poke') return; // a looking claim sees it in the poke count
    for (const l of this.looking)
      if (l.missed !== 'timeout' && matches(l.agentId)) l.missed = reason;
  }

  get parkedCount(): number {
    return this.parked.size;
  }

  private async tryClaim(
    agent: AgentRecord,
    max: number,
  ): Promise<{ jobs: ClaimedAttempt[]; graced: boolean }> {
    if (agent.state !== 'online' || max <= 0) return { jobs: [], graced: false };
    await this.classes.refresh();
    const entry = this.agents.entryFor(agent);
    const accepted = this.agents.accepted(entry);
    if (accepted.length === 0) return { jobs: [], graced: false };
    const nonEmpty = await this.store.classesWithQueued();
    const now = this.clock.now();
    const candidates: Array<{ classId: number; queuedBefore: number | null }> = [];
    let graced = false;
    for (const id of accepted) {
      if (!nonEmpty.has(id)) continue;
      const c = this.classes.get(id)!;
      if (this.paused.has(c.queue)) continue;
      const queuedBefore = tierCutoff(
        agent,
        c,
        this.agents.peers(agent),
        now,
        this.options.tierGraceMs,
      );
      if (queuedBefore !== null) graced = true;
      candidates.push({ classId: id, queuedBefore });
    }
    if (candidates.length === 0) return { jobs: [], graced };
    const jobs = await this.store.jobsClaim({ agent, max, classes: candidates, now });
    this.agents.holds(entry, jobs);
    return { jobs, graced };
  }

  /** Waits for a wake-up (its reason) or a hand-off (the jobs claimed for it). */
  private park(
    agentId: string,
    max: number,
    ms: number,
    gone?: AbortSignal,
  ): Promise<WakeReason | ClaimedAttempt[]> {
    return new Promise((resolve) => {
      const onGone = () => parked.release('timeout');
      const detach = () => {
        clearTimeout(timer);
        gone?.removeEventListener('abort', onGone);
        this.parked.delete(parked);
      };
      const parked: Parked = {
        agentId,
        max,
        release: (reason) => {
          detach();
          resolve(reason);
        },
        handOff: () => {
          detach();
          return resolve;
        },
      };
      const timer = setTimeout(() => parked.release('timeout'), ms);
      gone?.addEventListener('abort', onGone, { once: true });
      this.parked.add(parked);
    });
  }

  /** Wakes the agents that accept one of these classes (by jobClassKey), outside paused queues. */
  private wake(classes: ReadonlyMap<string, JobClass>): void {
    if (!this.anyoneWaits()) return;
    const distinct = [...classes.values()].filter((c) => !this.paused.has(c.queue));
    this.signal((agentId) => {
      const entry = this.agents.get(agentId);
      if (!entry || entry.agent.state !== 'online') return false;
      for (const c of distinct) if (agentAccepts(entry.agent, c)) return true;
      return false;
    }, 'work');
  }
}
