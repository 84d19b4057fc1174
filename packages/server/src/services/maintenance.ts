import type { Clock, JobRecord } from '@offload/core';
import type { Store, StoreChanges } from '@offload/store';
import type { Dispatcher } from './dispatcher.js';
import type { EventHub } from './event-hub.js';
import type { DueTimer, JobService } from './job-service.js';

const BATCH = 1_000;
/** Longest sleep of the due timer; a backstop against a missed arm, not a poll. */
const MAX_SLEEP_MS = 60_000;

export interface MaintenanceOptions {
  leaseTimeoutMs: number;
  retentionMs: number;
  timeoutGraceMs: number;
}

/**
 * The server's background work, with no per-job timers: one timer at the earliest due time
 * the store reports (promotions, expiries, timeout backstops), re-armed when a job gets an
 * earlier one; a lease reaper every quarter lease; retention every minute. The reaper waits
 * one lease timeout after start so agents can reconnect after a server restart.
 *
 * Of the servers sharing a store, only the one `store.campaign()` elects runs these timers
 * (SQLite: the one server, at once); they stop when it steps down and start on the server
 * elected next. The leader's due timer also follows the other servers' changes (a job
 * they scheduled earlier than the time armed), as the change feed (ChangeFeedService)
 * tells it.
 */
export class Maintenance implements DueTimer {
  private dueTimer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  private reapTimer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private rerun = false;
  private leading = false;
  private stopCampaign: (() => Promise<void>) | null = null;
  /** A nextDueAt read is in flight / another was asked for meanwhile. */
  private checkingDue = false;
  private recheckDue = false;
  private readonly startedAt: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly jobs: JobService,
    private readonly dispatcher: Dispatcher,
    private readonly hub: EventHub,
    private readonly options: MaintenanceOptions,
    private readonly onError: (err: unknown, what: string) => void,
  ) {
    this.startedAt = clock.now();
  }

  /** Campaigns for leadership; the timers run while this server leads. */
  start(): void {
    if (this.stopped || this.stopCampaign) return;
    this.jobs.setDueTimer(this);
    this.stopCampaign = this.store.campaign((leader) => (leader ? this.lead() : this.stepDown()));
  }

  /** Whether this server runs the periodic work now. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Whether a due-time sweep is under way (tests: the timer is armed once it is not). */
  get isSweeping(): boolean {
    return this.running !== null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stepDown();
    // Steps down in the database too, so the next leader need not wait for a timeout.
    await this.stopCampaign?.().catch((err: unknown) => this.onError(err, 'leader campaign'));
    await this.running;
  }

  private lead(): void {
    if (this.stopped || this.leading) return;
    this.leading = true;
    void this.runDue();
    this.reapTimer = setInterval(
      () => void this.reapNow(),
      Math.max(250, this.options.leaseTimeoutMs / 4),
    );
    this.retentionTimer = setInterval(() => void this.purgeNow(), 60_000);
    this.reapTimer.unref();
    this.retentionTimer.unref();
  }

  /** Another server leads now (or this one stops): its timers stop; a sweep under way finishes. */
  private stepDown(): void {
    this.leading = false;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    if (this.reapTimer) clearInterval(this.reapTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.dueTimer = this.reapTimer = this.retentionTimer = null;
    this.dueAt = Infinity;
  }

  /**
   * Jobs another server scheduled or submitted may be due before the time armed (a retry
   * with a short backoff, a delayed or expiring job): the leader reads nextDueAt again.
   * Jobs it started are left to the armed timer: their timeout backstop has a grace of a
   * lease timeout and a minute, longer than the timer ever sleeps.
   */
  jobsElsewhere(changes: Readonly<StoreChanges['jobs']>): void {
    if (!this.leading) return;
    if (changes.some((c) => c.to === 'scheduled' || c.from === null)) this.checkDue();
  }

  /**
   * Reads nextDueAt again (the feed missed changes: due times are unknown). One read at a
   * time; asked again meanwhile, it reads once more after.
   */
  checkDue(): void {
    if (!this.leading || this.stopped) return;
    if (this.checkingDue) {
      this.recheckDue = true;
      return;
    }
    this.checkingDue = true;
    void (async () => {
      try {
        do {
          this.recheckDue = false;
          const next = await this.store.nextDueAt({ graceMs: this.options.timeoutGraceMs });
          if (next !== null) this.arm(next);
        } while (this.recheckDue && this.leading && !this.stopped);
      } catch (err) {
        this.onError(err, 'due-time check');
      } finally {
        this.checkingDue = false;
      }
    })();
  }

  arm(atMs: number): void {
    if (this.stopped || !this.leading || atMs >= this.dueAt) return;
    this.dueAt = atMs;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    const delay = Math.min(MAX_SLEEP_MS, Math.max(0, atMs - this.clock.now()));
    this.dueTimer = setTimeout(() => void this.runDue(), delay);
    this.dueTimer.unref();
  }

  /** Promotes, expires and times out what is due now; returns the jobs changed. Tests call it after moving the clock. */
  async dueNow(): Promise<JobRecord[]> {
    const changed: JobRecord[] = [];
    const now = this.clock.now();
    for (;;) {
      const promoted = await this.store.jobsPromoteDue({ now, limit: BATCH });
      if (promoted.length > 0) this.jobs.changed(promoted.map((j) => [j, 'scheduled']));
      changed.push(...promoted);
      if (promoted.length < BATCH) break;
    }
    for (;;) {
      const expired = await this.store.jobsExpireDue({ now, limit: BATCH });
      this.jobs.changed(expired.map((j) => [j, 'queued']));
      changed.push(...expired);
      if (expired.length < BATCH) break;
    }
    for (;;) {
      const timedOut = await this.store.jobsTimeoutDue({
        now,
        graceMs: this.options.timeoutGraceMs,
        limit: BATCH,
      });
      this.jobs.changed(timedOut.map((j) => [j, 'running']));
      for (const j of timedOut) if (j.agentId) this.dispatcher.poke(j.agentId);
      changed.push(...timedOut);
      if (timedOut.length < BATCH) break;
    }
    return changed;
  }

  /** Agents silent for a lease timeout go offline and lose their attempts. Skipped during the first lease timeout after start. */
  async reapNow(): Promise<JobRecord[]> {
    const now = this.clock.now();
    if (this.stopped || now - this.startedAt < this.options.leaseTimeoutMs) return [];
    try {
      const { agents, jobs } = await this.store.agentsReap({
        seenBefore: now - this.options.leaseTimeoutMs,
        now,
      });
      for (const a of agents) {
        this.dispatcher.agentChanged(a);
        this.hub.agent('agent.offline', a);
      }
      this.jobs.changed(jobs.map((j) => [j, 'running']));
      return jobs;
    } catch (err) {
      this.onError(err, 'lease reaper');
      return [];
    }
  }

  async purgeNow(): Promise<number> {
    let total = 0;
    try {
      const before = this.clock.now() - this.options.retentionMs;
      for (;;) {
        const n = await this.store.jobsPurgeFinished({ before, limit: BATCH });
        total += n;
        if (n < BATCH || this.stopped) break;
      }
    } catch (err) {
      this.onError(err, 'retention');
    }
    return total;
  }

  private async runDue(): Promise<void> {
    if (this.stopped || !this.leading) return;
    if (this.running) {
      // A timer fired mid-sweep: sweep once more when this one ends.
      this.rerun = true;
      return;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        this.dueTimer = null;
        this.dueAt = Infinity;
        try {
          await this.dueNow();
          const next = await this.store.nextDueAt({ graceMs: this.options.timeoutGraceMs });
          this.arm(next ?? this.clock.now() + MAX_SLEEP_MS);
        } catch (err) {
          this.onError(err, 'due-time sweep');
          this.arm(this.clock.now() + 1_000);
        }
      } while (this.rerun && !this.stopped && this.leading);
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }
}
