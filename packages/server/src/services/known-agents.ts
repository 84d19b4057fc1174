import {
  agentAccepts,
  freeResources,
  type AgentRecord,
  type JobRecord,
  type PeerAgent,
  type Reservation,
} from '@offload/core';
import type { ClaimedAttempt, Store } from '@offload/store';
import type { KnownClasses } from './known-classes.js';

/** An agent as this server knows it. */
export interface AgentEntry {
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

/** How long a cached agent record is trusted before it is read again (another server may have drained it). */
const AGENT_TTL_MS = 1_000;

/**
 * The agents this server schedules for (SPEC §2): each one's record, the attempts it runs
 * and the classes it accepts, kept so that a claim reads none of them from the store. A
 * record is read again after a second, or at once when another server changed it; a change
 * that reshapes an agent (state, tier, capabilities, pools, resources, slots, name) or
 * revokes it is reported through `reshaped`, for its parked claim to look again.
 */
export class KnownAgents {
  private readonly byId = new Map<string, AgentEntry>();
  /** Bumped by each change heard here: a store read of an agent that overlapped one is stale. */
  private changes = 0;

  constructor(
    private readonly store: Store,
    private readonly classes: KnownClasses,
    private readonly reshaped: (agentId: string) => void,
  ) {}

  /** Every live agent with the attempts it runs, from the store (at start). */
  async load(): Promise<void> {
    for (const agent of await this.store.agentsList({})) {
      if (agent.state === 'revoked') continue;
      const entry = this.entryFor(agent);
      for (const job of await this.store.jobsRunningOnAgent({ agentId: agent.id }))
        entry.running.set(job.id, reservationOf(job));
    }
  }

  get(agentId: string): AgentEntry | undefined {
    return this.byId.get(agentId);
  }

  /** The agent's record, read again from the store when the cached one is older than a second. */
  async read(agentId: string): Promise<AgentRecord | null> {
    const entry = this.byId.get(agentId);
    if (entry && performance.now() - entry.loadedAt < AGENT_TTL_MS) return entry.agent;
    const changes = this.changes;
    const agent = await this.store.agentGet({ id: agentId });
    // A change heard while the read was out (a drain committed meanwhile) is newer than what
    // the read saw: keep it. On PostgreSQL a read can take long enough for this to happen;
    // the stale record put an agent drained a moment ago back online for its next claim.
    if (this.changes !== changes && this.byId.has(agentId)) return this.byId.get(agentId)!.agent;
    if (!agent) {
      this.byId.delete(agentId);
      return null;
    }
    this.changed(agent);
    return agent;
  }

  /** A registration, drain, resume, revoke or state change: the record as it is now. */
  changed(agent: AgentRecord): void {
    this.changes++;
    const entry = this.byId.get(agent.id);
    if (agent.state === 'revoked') {
      this.byId.delete(agent.id);
      this.reshaped(agent.id);
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
      this.reshaped(agent.id);
    }
  }

  /**
   * Another server changed these agents: read them again and take what the reads saw.
   * Returns the records read (missing ones left out).
   */
  async changedElsewhere(ids: readonly string[]): Promise<AgentRecord[]> {
    const changes = this.changes;
    const agents = await Promise.all(ids.map((id) => this.store.agentGet({ id })));
    // A change made here while the reads were out (a drain on this server) may be newer than
    // what they saw, as in read(): neither is trusted, the next claim reads the agent again.
    const overtaken = this.changes !== changes;
    const found: AgentRecord[] = [];
    agents.forEach((agent, i) => {
      const id = ids[i]!;
      const entry = overtaken ? this.byId.get(id) : undefined;
      if (entry) {
        entry.loadedAt = -Infinity;
        this.reshaped(id);
        if (agent) found.push(agent);
      } else if (agent) {
        this.changed(agent);
        found.push(agent);
      } else {
        this.byId.delete(id);
        this.reshaped(id);
      }
    });
    return found;
  }

  /** After a gap in the change feed: every record is read again at its next use. */
  allStale(): void {
    for (const entry of this.byId.values()) entry.loadedAt = -Infinity;
  }

  /** True at most once a second per agent: whether to write lastSeenAt now. */
  shouldRecordSeen(agentId: string, now: number): boolean {
    const entry = this.byId.get(agentId);
    if (!entry) return true;
    if (now - entry.seenWrittenAt < 1_000) return false;
    entry.seenWrittenAt = now;
    return true;
  }

  /** Jobs claimed for an agent: they hold its resources until they leave 'running'. */
  holds(entry: AgentEntry, claimed: readonly ClaimedAttempt[]): void {
    for (const c of claimed) entry.running.set(c.job.id, reservationOf(c.job));
  }

  /**
   * A job's new state, for its agent's reservations. Returns the agent whose resources it
   * freed (its parked claim may now fit work it could not before), or null.
   */
  track(job: JobRecord): string | null {
    if (job.agentId === null) return null;
    const entry = this.byId.get(job.agentId);
    if (!entry) return null;
    if (job.state === 'running') entry.running.set(job.id, reservationOf(job));
    else if (entry.running.delete(job.id)) return job.agentId;
    return null;
  }

  /**
   * Jobs another server changed: those that `left` running free their agents' resources;
   * those `touched` while running (a cancel request) concern their agents.
   */
  trackElsewhere(
    left: ReadonlySet<string> | null,
    touched: ReadonlySet<string> | null,
  ): { freed: Set<string>; poked: Set<string> } {
    const freed = new Set<string>();
    const poked = new Set<string>();
    for (const [agentId, entry] of this.byId) {
      for (const id of entry.running.keys()) {
        if (left?.has(id)) {
          entry.running.delete(id);
          freed.add(agentId);
        } else if (touched?.has(id)) poked.add(agentId);
      }
    }
    return { freed, poked };
  }

  /** The ids of the classes the agent accepts, caught up with the classes known now. */
  accepted(entry: AgentEntry): number[] {
    if (entry.acceptedUpTo < this.classes.lastId) {
      for (const [id, c] of this.classes.after(entry.acceptedUpTo))
        if (agentAccepts(entry.agent, c)) entry.accepted.push(id);
      entry.acceptedUpTo = this.classes.lastId;
    }
    return entry.accepted;
  }

  /**
   * The online agents of a higher tier than `claimer`: the only peers tierCutoff weighs.
   * Others are skipped before their free resources are computed, which copies the agent's
   * running list: with every agent on one tier and ~250 jobs running on each, that copy
   * was made for every peer on every claim, for nothing.
   */
  *peers(claimer: AgentRecord): Iterable<PeerAgent> {
    for (const e of this.byId.values()) {
      if (e.agent.state !== 'online') continue;
      if (e.agent.id === claimer.id || e.agent.tier <= claimer.tier) continue;
      yield { agent: e.agent, free: freeResources(e.agent, [...e.running.values()]) };
    }
  }

  /** The entry of a record just read or claimed for, created if new. */
  entryFor(agent: AgentRecord): AgentEntry {
    let entry = this.byId.get(agent.id);
    if (!entry) {
      entry = {
        agent,
        loadedAt: performance.now(),
        running: new Map(),
        accepted: [],
        acceptedUpTo: 0,
        seenWrittenAt: 0,
      };
      this.byId.set(agent.id, entry);
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
