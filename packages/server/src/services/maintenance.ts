import type { Clock, JobRecord } from '@offload/core';
import type { Store } from '@offload/store';
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
 * The server's periodic work, with no per-job timers: one timer at the earliest due time
 * the store reports (promotions, expiries, timeout backstops), re-armed when a job gets an
 * earlier one; a lease reaper every quarter lease; retention every minute. The reaper waits
 * one lease timeout after start so agents can reconnect after a server restart.
 */
export class Maintenance implements DueTimer {
  private dueTimer: NodeJS.Timeout | null = null;
  private dueAt = Infinity;
  private reapTimer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private rerun = false;
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

  start(): void {
    this.jobs.setDueTimer(this);
    void this.runDue();
    this.reapTimer = setInterval(
      () => void this.reapNow(),
      Math.max(250, this.options.leaseTimeoutMs / 4),
    );
    this.retentionTimer = setInterval(() => void this.purgeNow(), 60_000);
    this.reapTimer.unref();
    this.retentionTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.dueTimer) clearTimeout(this.dueTimer);
    if (this.reapTimer) clearInterval(this.reapTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.running;
  }

  arm(atMs: number): void {
    if (this.stopped || atMs >= this.dueAt) return;
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
      if (promoted.length > 0) {
        this.dispatcher.classesMayHaveChanged();
        this.jobs.changed(promoted.map((j) => [j, 'scheduled']));
      }
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
    if (this.stopped) return;
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
      } while (this.rerun && !this.stopped);
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }
}
