import {
  createJobRecord,
  type AgentRecord,
  type AttemptOutcome,
  type Clock,
  type JobRecord,
  type Progress,
} from '@offload/core';
import { ApiError, type JobSubmit } from '@offload/protocol';
import type { ClaimedAttempt, JobListParams, LogChunk, Store, SubmitResult } from '@offload/store';
import { authorizeJobAccess, type Principal } from './auth-service.js';
import type { Dispatcher } from './dispatcher.js';
import { jobEventFor, type EventHub } from './event-hub.js';
import { createJobIdFactory } from './ids.js';
import type { Stats } from './stats.js';
import { SubmitCoalescer } from './submit-coalescer.js';

/** Something that keeps the one due-time timer: told when a job gets an earlier due time. */
export interface DueTimer {
  arm(atMs: number): void;
}

/**
 * Job operations with their effects: every state change goes through `changed`, which
 * publishes events, wakes agents for queued work, updates reservations and statistics,
 * and arms the due-time timer. Routes stay thin and call this.
 */
export class JobService {
  private readonly newJobId = createJobIdFactory();
  private dueTimer: DueTimer | null = null;
  private readonly submits: SubmitCoalescer;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly hub: EventHub,
    private readonly dispatcher: Dispatcher,
    private readonly stats: Stats,
    private readonly options: { logCapBytes: number; timeoutGraceMs: number },
  ) {
    this.submits = new SubmitCoalescer((jobs) => this.storeJobs(jobs));
  }

  setDueTimer(timer: DueTimer): void {
    this.dueTimer = timer;
  }

  /** Validates, authorizes and stores jobs (all or none); repeated idempotency keys return the first job. */
  async submit(
    specs: readonly JobSubmit[],
    principal: Principal,
    batch: boolean,
  ): Promise<SubmitResult[]> {
    const now = this.clock.now();
    const records = specs.map((spec, i) => {
      const job = createJobRecord(spec, {
        id: this.newJobId(now),
        now,
        ...(batch ? { fieldPrefix: `/jobs/${i}` } : {}),
      });
      authorizeJobAccess(
        principal,
        { queue: job.queue, kind: job.kind, capabilities: spec.requires?.capabilities ?? [] },
        'submit',
      );
      return job;
    });
    return this.submits.submit(records);
  }

  /**
   * Stores one group of submitted jobs and publishes them. When an agent waits for work
   * they fit, they go to it in the same transaction (a hand-off: one commit instead of two,
   * and the claim answered without a wake-up round through the dispatcher). 1,000 lone jobs
   * on a real agent, A/B back to back: PostgreSQL p50 7.86 → 5.98 ms and server CPU 4.0 →
   * 3.1 ms a job; SQLite 1.08 → 1.06 ms, within the noise (its commit is ~40 µs of ~130).
   */
  private async storeJobs(jobs: JobRecord[]): Promise<SubmitResult[]> {
    const handoff = this.dispatcher.handoff(jobs);
    let results: SubmitResult[];
    let claimed: ClaimedAttempt[] = [];
    try {
      if (handoff === null) results = await this.store.jobsSubmit({ jobs });
      else
        ({ submitted: results, claimed } = await this.store.jobsSubmitAndClaim({
          jobs,
          claim: handoff.request,
        }));
    } catch (err) {
      handoff?.deliver([]);
      throw err;
    }
    // The claim resumes after this turn: its job.started events follow the job.submitted below.
    handoff?.deliver(claimed);
    const created = results.filter((r) => r.created).map((r) => r.job);
    if (created.length > 0) {
      this.stats.submitted(created);
      this.changed(created.map((job) => [job, null]));
    }
    return results;
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.store.jobGet({ id });
    if (!job) throw new ApiError('JOB_NOT_FOUND', `no job ${id}`);
    return job;
  }

  list(params: JobListParams): Promise<{ jobs: JobRecord[]; nextCursor: string | null }> {
    return this.store.jobsList(params);
  }

  async cancel(id: string, principal: Principal): Promise<{ job: JobRecord; immediate: boolean }> {
    const before = await this.get(id);
    authorizeJobAccess(
      principal,
      { queue: before.queue, kind: before.kind, capabilities: [] },
      'cancel',
    );
    const result = await this.store.jobCancel({ id, now: this.clock.now() });
    this.changed([[result.job, before.state]]);
    // The agent learns of the cancel at once if it is parked in a sync with this server.
    if (!result.immediate && result.job.agentId !== null) this.dispatcher.poke(result.job.agentId);
    return result;
  }

  async retry(id: string, principal: Principal): Promise<JobRecord> {
    const before = await this.get(id);
    authorizeJobAccess(
      principal,
      { queue: before.queue, kind: before.kind, capabilities: [] },
      'retry',
    );
    const job = await this.store.jobRetry({ id, now: this.clock.now() });
    this.changed([[job, before.state]]);
    return job;
  }

  /** Outcomes from an agent, fenced by lease. */
  async complete(
    agent: AgentRecord,
    reports: ReadonlyArray<AttemptOutcome & { jobId: string; leaseId: string }>,
  ) {
    const results = await this.store.jobsComplete({
      agentId: agent.id,
      reports,
      now: this.clock.now(),
    });
    const changes: Array<[JobRecord, JobRecord['state'] | null]> = [];
    for (const r of results) if (r.ok && r.job) changes.push([r.job, 'running']);
    if (changes.length > 0) this.changed(changes);
    return results;
  }

  /** Output and progress from an agent, fenced by lease; returns the stale lease ids. */
  async report(
    agent: AgentRecord,
    logs: ReadonlyArray<{
      jobId: string;
      leaseId: string;
      stream: 'stdout' | 'stderr';
      data: string;
    }>,
    progress: ReadonlyArray<Progress & { jobId: string; leaseId: string }>,
  ): Promise<string[]> {
    const stale = new Set<string>();
    if (logs.length > 0) {
      const r = await this.store.logsAppend({
        agentId: agent.id,
        chunks: logs,
        capBytes: this.options.logCapBytes,
        now: this.clock.now(),
      });
      for (const s of r.stale) stale.add(s);
      this.hub.logs(r.appended);
    }
    if (progress.length > 0) {
      const r = await this.store.jobsProgress({ agentId: agent.id, reports: progress });
      for (const s of r.stale) stale.add(s);
      for (const job of r.jobs) this.hub.job('job.progress', job);
    }
    return [...stale];
  }

  logs(jobId: string, afterSeq?: number): Promise<{ chunks: LogChunk[]; truncated: boolean }> {
    return this.store.logsRead(afterSeq === undefined ? { jobId } : { jobId, afterSeq });
  }

  /** Claimed jobs are running now. */
  started(jobs: readonly JobRecord[]): void {
    this.stats.started(jobs);
    let deadline = Infinity;
    for (const job of jobs) {
      this.hub.job('job.started', job);
      if (job.startedAt !== null)
        deadline = Math.min(
          deadline,
          job.startedAt + job.timeoutSec * 1000 + this.options.timeoutGraceMs,
        );
    }
    if (deadline !== Infinity) this.dueTimer?.arm(deadline);
  }

  /**
   * The one place effects of job changes happen. `previous` is the state before the change
   * (null for a new job) and picks the event.
   */
  changed(changes: ReadonlyArray<readonly [JobRecord, JobRecord['state'] | null]>): void {
    const jobs = changes.map(([job]) => job);
    this.dispatcher.jobsChanged(jobs);
    const finished: JobRecord[] = [];
    let earliestDue = Infinity;
    for (const [job, previous] of changes) {
      this.hub.job(jobEventFor(job, previous), job);
      if (
        job.finishedAt !== null &&
        job.state !== previous &&
        (job.state === 'succeeded' ||
          job.state === 'failed' ||
          job.state === 'canceled' ||
          job.state === 'expired')
      )
        finished.push(job);
      if (job.state === 'scheduled' && job.runAt !== null)
        earliestDue = Math.min(earliestDue, job.runAt);
      if ((job.state === 'queued' || job.state === 'scheduled') && job.expireAt !== null)
        earliestDue = Math.min(earliestDue, job.expireAt);
    }
    if (finished.length > 0) this.stats.finished(finished);
    if (earliestDue !== Infinity) this.dueTimer?.arm(earliestDue);
  }
}
