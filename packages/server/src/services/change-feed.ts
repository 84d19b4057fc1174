import type { AgentRecord, JobRecord } from '@offload/core';
import { TERMINAL_STATES } from '@offload/protocol';
import type { Store, StoreChanges } from '@offload/store';
import type { Dispatcher } from './dispatcher.js';
import { jobEventFor, type AgentEventType, type EventHub } from './event-hub.js';

type JobChange = StoreChanges['jobs'][number];

/** Log reads done at once per delivery: enough to overlap round trips, few enough to leave the pool to requests. */
const READ_CONCURRENCY = 8;

/**
 * What other servers sharing the store committed, applied here as if it happened here
 * (Store.subscribeChanges; PostgreSQL only — on SQLite nothing is subscribed and this
 * costs nothing). Wake-ups come first and at once: agents parked here for classes that
 * gained work, agents whose record changed, reservations freed. Then, in delivery order,
 * what someone here listens to: the jobs waited for or streamed (read again and
 * published to the hub), the logs followed (read after the last line sent), agent
 * events. Nothing is read for a change nobody here listens to, so a busy farm's feed
 * costs a server without dashboards or waiters almost nothing.
 */
export class ChangeFeedService {
  private unsubscribe: (() => void) | null = null;
  /** Deliveries are applied one after another, so events keep the order they were committed in. */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  /** A delivery could not be applied (the database failed): the next one resyncs. */
  private missed = false;
  private down: { reason: string; since: number } | null = null;
  private readonly listeningWaiters = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly hub: EventHub,
    private readonly due: {
      /** Jobs changed elsewhere that may have an earlier due time than the one armed. */
      jobsElsewhere(jobs: readonly JobChange[]): void;
      /** After a gap: due times are unknown. */
      resync(): void;
    },
    private readonly onError: (err: unknown, what: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Subscribes when the store has a feed; a no-op otherwise (SQLite: one server). */
  start(): void {
    if (!this.store.capabilities.changeFeed || this.unsubscribe !== null || this.stopped) return;
    // Not listening until the feed says so (its first delivery is a resync).
    this.down = { reason: 'the change feed is connecting', since: this.now() };
    const listener = Object.assign((changes: StoreChanges) => this.received(changes), {
      // PostgreSQL's feed tells a listener with `lost` when it stops listening.
      lost: (reason: Error) => this.lost(reason),
    });
    this.unsubscribe = this.store.subscribeChanges(listener);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const w of [...this.listeningWaiters]) w();
  }

  /** Whether a feed is subscribed and listening. False on a store without one. */
  get listening(): boolean {
    return this.unsubscribe !== null && this.down === null;
  }

  /** Why other servers' changes are being missed now, or null. */
  get problem(): { reason: string; since: number } | null {
    return this.unsubscribe === null ? null : this.down;
  }

  /**
   * Resolves once the feed listens (at once without a feed), or after `timeoutMs`: for
   * start-up and tests.
   */
  whenListening(timeoutMs = Infinity): Promise<void> {
    if (this.unsubscribe === null || this.down === null || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer =
        timeoutMs === Infinity ? undefined : setTimeout(() => done(), timeoutMs).unref();
      const done = () => {
        clearTimeout(timer);
        this.listeningWaiters.delete(done);
        resolve();
      };
      this.listeningWaiters.add(done);
    });
  }

  private lost(reason: Error): void {
    if (this.stopped) return;
    this.down ??= { reason: reason.message, since: this.now() };
    this.down.reason = reason.message;
  }

  private received(changes: StoreChanges): void {
    if (this.stopped) return;
    // Any delivery proves the listening connection works.
    if (this.down !== null) {
      this.down = null;
      for (const w of [...this.listeningWaiters]) w();
    }
    // Wake-ups do not wait behind the reads of earlier deliveries.
    if (changes.queuedClasses.length > 0)
      this.dispatcher
        .wakeForClasses(changes.queuedClasses)
        .catch((err: unknown) => this.failed(err));
    if (changes.jobs.length > 0) {
      this.dispatcher.jobsChangedElsewhere(changes.jobs);
      this.due.jobsElsewhere(changes.jobs);
    }
    this.chain = this.chain.then(() => this.apply(changes));
  }

  private async apply(changes: StoreChanges): Promise<void> {
    if (this.stopped) return;
    try {
      if (changes.resync || this.missed) {
        this.missed = false;
        await this.resync();
      } else if (changes.queues) await this.dispatcher.reloadPaused();
      if (changes.agents.length > 0) await this.agents(changes.agents);
      if (changes.jobs.length > 0) await this.jobs(changes.jobs);
      if (changes.logs.length > 0) await this.logs(changes.logs);
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    this.missed = true;
    this.onError(err, 'change feed');
  }

  /**
   * Changes may have been missed: read classes and pause flags again, wake every parked
   * claim once, re-read every job someone waits for (publishing those now finished) and
   * every followed log after its last line, and let the due timer look again.
   */
  private async resync(): Promise<void> {
    await this.dispatcher.resync();
    this.due.resync();
    const awaited = await this.readJobs(this.hub.awaitedJobs());
    for (const job of awaited)
      if (TERMINAL_STATES.includes(job.state)) this.hub.job(jobEventFor(job, null), job);
    await this.readLogs(this.hub.followedJobs());
  }

  private async agents(ids: readonly string[]): Promise<void> {
    const agents = await this.dispatcher.agentsChangedElsewhere(ids);
    if (!this.hub.wantsAgents) return;
    for (const agent of agents) this.hub.agent(agentEventFor(agent), agent);
  }

  /** Publishes the changed jobs someone here listens to, as read now. */
  private async jobs(changes: readonly JobChange[]): Promise<void> {
    const wanted = changes.filter((c) => this.hub.wantsJob(c.id));
    if (wanted.length === 0) return;
    const read = new Map((await this.readJobs(wanted.map((c) => c.id))).map((j) => [j.id, j]));
    for (const c of wanted) {
      const job = read.get(c.id);
      // Moved on since (a later delivery, or this server, publishes that), or purged.
      if (job === undefined || job.state !== c.to) continue;
      // A running job written without a cancel request is a progress report.
      const progress = c.from === 'running' && c.to === 'running' && !job.cancelRequested;
      this.hub.job(progress ? 'job.progress' : jobEventFor(job, c.from), job);
    }
  }

  private async logs(jobIds: readonly string[]): Promise<void> {
    const followed = this.hub.followedJobs();
    if (followed.length === 0) return;
    const changed = new Set(jobIds);
    await this.readLogs(followed.filter((f) => changed.has(f.jobId)));
  }

  /** Lines after the last one sent to each job's followers; they skip what they already have. */
  private async readLogs(jobs: ReadonlyArray<{ jobId: string; afterSeq: number }>): Promise<void> {
    await eachLimited(jobs, async ({ jobId, afterSeq }) => {
      let after = afterSeq;
      for (;;) {
        const page = await this.store.logsRead(after < 0 ? { jobId } : { jobId, afterSeq: after });
        const last = page.chunks[page.chunks.length - 1];
        if (last === undefined || this.stopped) return;
        this.hub.logs(page.chunks);
        after = last.seq;
      }
    });
  }

  /** The jobs as they are now, in one query (unknown or purged ones are left out). */
  private async readJobs(ids: readonly string[]): Promise<JobRecord[]> {
    return ids.length === 0 ? [] : this.store.jobsGet({ ids });
  }
}

/** The event an agent's state deserves when another server changed it. */
function agentEventFor(agent: AgentRecord): AgentEventType {
  switch (agent.state) {
    case 'online':
      return 'agent.online';
    case 'offline':
      return 'agent.offline';
    case 'draining':
      return 'agent.draining';
    case 'revoked':
      return 'agent.revoked';
    default:
      return 'agent.updated';
  }
}

async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, items.length) }, worker));
}
