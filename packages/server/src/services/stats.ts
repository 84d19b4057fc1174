import client from 'prom-client';
import type { JobRecord } from '@offload/core';
import type { Store } from '@offload/store';
import { JOB_STATES, type StatsMinute } from '@offload/protocol';

const MINUTES = 60;
const WAIT_SAMPLES = 4_096;
/** Queue waits kept per minute for its percentiles; past this a minute keeps a uniform sample. */
const WAITS_PER_MINUTE = 512;

interface Bucket {
  minute: number;
  submitted: number;
  started: number;
  succeeded: number;
  failed: number;
  /** Queue waits (ms) of the jobs started this minute: a reservoir sample of WAITS_PER_MINUTE. */
  waits: number[];
}

/**
 * Throughput and queue-wait figures for /stats and the dashboard, and the Prometheus
 * metrics. Kept in memory per server as per-minute counters for the last hour and a ring
 * of recent queue waits: reading them never scans the jobs table.
 */
export class Stats {
  readonly registry = new client.Registry();
  private readonly buckets: Bucket[] = [];
  private readonly waits = new Float64Array(WAIT_SAMPLES);
  private waitCount = 0;
  private readonly children = new Map<object, Map<string, unknown>>();

  private readonly submittedTotal = new client.Counter({
    name: 'offload_jobs_submitted_total',
    help: 'Jobs submitted.',
    labelNames: ['queue'],
    registers: [this.registry],
  });
  private readonly startedTotal = new client.Counter({
    name: 'offload_jobs_started_total',
    help: 'Attempts started (claimed by an agent).',
    labelNames: ['queue'],
    registers: [this.registry],
  });
  private readonly finishedTotal = new client.Counter({
    name: 'offload_jobs_finished_total',
    help: 'Jobs that reached a terminal state.',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
  });
  private readonly queueWait = new client.Histogram({
    name: 'offload_job_queue_wait_seconds',
    help: 'Time from queued to started.',
    labelNames: ['queue'],
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60, 300, 1800, 7200],
    registers: [this.registry],
  });
  private readonly runTime = new client.Histogram({
    name: 'offload_job_run_seconds',
    help: 'Run time of finished attempts.',
    labelNames: ['queue', 'state'],
    buckets: [0.01, 0.1, 1, 10, 60, 300, 1800, 7200, 36000],
    registers: [this.registry],
  });
  readonly storeLatency = new client.Histogram({
    name: 'offload_store_operation_seconds',
    help: 'Latency of store operations on the hot path.',
    labelNames: ['op'],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.02, 0.1, 0.5, 2],
    registers: [this.registry],
  });

  constructor(
    store: Store,
    private readonly now: () => number,
  ) {
    new client.Gauge({
      name: 'offload_jobs',
      help: 'Jobs by queue and state.',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const q of await store.queuesList())
          for (const s of JOB_STATES) this.set({ queue: q.name, state: s }, q.counts[s]);
      },
    });
    new client.Gauge({
      name: 'offload_agents',
      help: 'Agents by state.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const counts: Record<string, number> = { online: 0, draining: 0, offline: 0 };
        for (const a of await store.agentsList({})) if (a.state in counts) counts[a.state]!++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'offload_process_' });
  }

  submitted(jobs: readonly JobRecord[]): void {
    this.bucket().submitted += jobs.length;
    for (const [queue, n] of countByQueue(jobs)) this.submittedTotal.inc({ queue }, n);
  }

  started(jobs: readonly JobRecord[]): void {
    const b = this.bucket();
    b.started += jobs.length;
    for (const [queue, n] of countByQueue(jobs)) this.startedTotal.inc({ queue }, n);
    // The histogram child looked up once per run of jobs from one queue (a claim's jobs
    // mostly share one), not per job; finished() below counts per run too. With the token
    // hash kept in auth-service: process-1@20k/offload-sqlite 18.8k → 19.4k jobs/s, 48 → 46 µs
    // of server CPU per job (medians of 3, A/B); metrics ~2.9 → ~2.1 µs per job in the profile.
    let queue: string | null = null;
    let wait: client.Histogram.Internal<string> | null = null;
    for (const j of jobs) {
      if (j.queuedAt !== null && j.startedAt !== null) {
        const ms = Math.max(0, j.startedAt - j.queuedAt);
        this.waits[this.waitCount++ % WAIT_SAMPLES] = ms;
        if (b.waits.length < WAITS_PER_MINUTE) b.waits.push(ms);
        else {
          const slot = Math.floor(Math.random() * b.started);
          if (slot < WAITS_PER_MINUTE) b.waits[slot] = ms;
        }
        if (wait === null || j.queue !== queue) {
          queue = j.queue;
          wait = this.child(this.queueWait, queue);
        }
        wait.observe(ms / 1000);
      }
    }
  }

  finished(jobs: readonly JobRecord[]): void {
    const b = this.bucket();
    // Counted per run of jobs with one queue and state, one inc() each, instead of one per job.
    let i = 0;
    while (i < jobs.length) {
      const { queue, state } = jobs[i]!;
      let runTime: client.Histogram.Internal<string> | null = null;
      let n = 0;
      for (; i < jobs.length; i++, n++) {
        const j = jobs[i]!;
        if (j.queue !== queue || j.state !== state) break;
        if (j.usage) (runTime ??= this.child(this.runTime, queue, state)).observe(j.usage.wallSec);
      }
      if (state === 'succeeded') b.succeeded += n;
      else if (state === 'failed') b.failed += n;
      this.child(this.finishedTotal, queue, state).inc(n);
    }
  }

  /**
   * The labelled child of a metric, cached: prom-client hashes the label object on every
   * inc/observe otherwise, which cost up to 8 % of the server in one-job claims (bench).
   */
  private child<T extends client.Counter | client.Histogram>(
    metric: T,
    ...labels: string[]
  ): ReturnType<T['labels']> {
    const key = labels.join('\u0000');
    let perMetric = this.children.get(metric);
    if (!perMetric) this.children.set(metric, (perMetric = new Map<string, unknown>()));
    let c = perMetric.get(key);
    if (!c) perMetric.set(key, (c = metric.labels(...labels)));
    return c as ReturnType<T['labels']>;
  }

  /** Per-minute buckets for the last hour, oldest first, with empty minutes filled in. */
  perMinute(): Array<{
    at: string;
    submitted: number;
    started: number;
    succeeded: number;
    failed: number;
  }> {
    const current = Math.floor(this.now() / 60_000);
    const byMinute = new Map(this.buckets.map((b) => [b.minute, b]));
    const out = [];
    for (let m = current - MINUTES + 1; m <= current; m++) {
      const b = byMinute.get(m);
      out.push({
        at: new Date(m * 60_000).toISOString(),
        submitted: b?.submitted ?? 0,
        started: b?.started ?? 0,
        succeeded: b?.succeeded ?? 0,
        failed: b?.failed ?? 0,
      });
    }
    return out;
  }

  /** The last hour for the dashboard charts (`GET /stats/history`), oldest first, empty minutes filled in. */
  history(): StatsMinute[] {
    const current = Math.floor(this.now() / 60_000);
    const byMinute = new Map(this.buckets.map((b) => [b.minute, b]));
    const out: StatsMinute[] = [];
    for (let m = current - MINUTES + 1; m <= current; m++) {
      const b = byMinute.get(m);
      const sorted = b ? [...b.waits].sort((x, y) => x - y) : [];
      const at = (q: number) =>
        sorted.length === 0
          ? 0
          : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
      out.push({
        at: new Date(m * 60_000).toISOString(),
        started: b?.started ?? 0,
        succeeded: b?.succeeded ?? 0,
        failed: b?.failed ?? 0,
        queueWaitP50Ms: at(0.5),
        queueWaitP95Ms: at(0.95),
      });
    }
    return out;
  }

  /** Rates over the last five minutes. */
  rates(windowMinutes = 5): {
    windowSec: number;
    submittedPerSec: number;
    startedPerSec: number;
    finishedPerSec: number;
  } {
    const from = Math.floor(this.now() / 60_000) - windowMinutes + 1;
    let submitted = 0;
    let started = 0;
    let finished = 0;
    for (const b of this.buckets) {
      if (b.minute < from) continue;
      submitted += b.submitted;
      started += b.started;
      finished += b.succeeded + b.failed;
    }
    const sec = windowMinutes * 60;
    return {
      windowSec: sec,
      submittedPerSec: submitted / sec,
      startedPerSec: started / sec,
      finishedPerSec: finished / sec,
    };
  }

  queueWaitPercentiles(): { p50: number; p95: number; samples: number } {
    const n = Math.min(this.waitCount, WAIT_SAMPLES);
    if (n === 0) return { p50: 0, p95: 0, samples: 0 };
    // A typed array sorts numerically without a comparator call per comparison: ~820 → ~225 µs
    // for the 4,096 samples (micro-benchmark); the dashboard and /queues ask on every poll.
    const sorted = this.waits.slice(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    return { p50: at(0.5), p95: at(0.95), samples: n };
  }

  private bucket(): Bucket {
    const minute = Math.floor(this.now() / 60_000);
    const last = this.buckets[this.buckets.length - 1];
    if (last && last.minute === minute) return last;
    const b: Bucket = { minute, submitted: 0, started: 0, succeeded: 0, failed: 0, waits: [] };
    this.buckets.push(b);
    while (this.buckets.length > MINUTES) this.buckets.shift();
    return b;
  }
}

function countByQueue(jobs: readonly JobRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const j of jobs) counts.set(j.queue, (counts.get(j.queue) ?? 0) + 1);
  return counts;
}
