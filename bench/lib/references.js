/**
 * Figures measured in EARLIER runs on this kind of machine (2 vCPU AMD EPYC VM, Node
 * v20.20.2), not in the same run as offload's. The anchors are measured in every run now
 * (bench/anchors/); their constants here are only a fallback, shown in their own column and
 * used for a target's ratio only when that anchor could not run (its database absent).
 * Each figure is the median of 3 repetitions in its source.
 */

/**
 * ../shared/bench/anchors/RESULTS.md, run of 2026-11-23 (Redis 7.0.15 without persistence,
 * PostgreSQL 15 with durable commits), at the settings bench/anchors/ uses.
 * @type {Record<string, Record<string, Record<string, number>>>}
 */
export const EARLIER_ANCHORS = {
  bullmq: {
    'submit-batch': { jobsPerSec: 36_505 },
    'submit-single': { jobsPerSec: 35_389 },
    'process-1': { jobsPerSec: 28_264 },
    'lone-latency': { p50Ms: 0.63, p95Ms: 2.8, p99Ms: 4.64 },
  },
  pgboss: {
    'submit-batch': { jobsPerSec: 47_266 },
    'submit-single': { jobsPerSec: 2_916 },
    'process-1': { jobsPerSec: 7_106 },
    'lone-latency': { p50Ms: 3.77, p95Ms: 6.37, p99Ms: 9.42 },
  },
  graphile: {
    'submit-batch': { jobsPerSec: 68_343 },
    'submit-single': { jobsPerSec: 1_523 },
    'process-1': { jobsPerSec: 14_447 },
    'lone-latency': { p50Ms: 3.05, p95Ms: 5.5, p99Ms: 7.85 },
  },
};

/**
 * ../shared/bench/limits/RESULTS.md: the bare HTTP + SQLite prototype (fastify 5,
 * better-sqlite3; no auth, validation, events or leases). Ceilings, not targets: 30–50 %
 * of them is a good result. bench/prototype/ measures it again in every run that includes
 * it (`--only prototype`); these figures stand in when it did not run.
 */
export const PROTOTYPE = {
  /** Table 3a: 1 agent, 500 per claim, pipelined. */
  process1JobsPerSec: 82_006,
  /** Table 3a: 2 agents, 500 per claim, pipelined ("~85,000 jobs/s at 500/claim"). */
  process2JobsPerSec: 85_012,
  /** Pre-fill over HTTP, POST /jobs/batch of 1,000, one client ("~245k jobs/s"). */
  submitBatchJobsPerSec: 245_234,
  /** Summary table, lone job submit → complete, long-poll, server-side wait: "p50 ~0.45 ms, p99 ~3–4 ms". */
  loneP50Ms: 0.45,
  loneP99Ms: 3.5,
  /**
   * Table 2c, partial claim index: one SQLite claim p50 22.5 µs at 1M queued / 25.0 µs at
   * 1k = 0.90. SQLite alone, no HTTP: a claim should not get slower with depth.
   */
  claimDepthRatio: 0.9,
};

/**
 * The prototype ceiling of the limits run per group and metric (SQLite rows only: the
 * prototype was SQLite).
 * @type {Record<string, Record<string, number>>}
 */
export const CEILINGS = {
  'submit-batch': { jobsPerSec: PROTOTYPE.submitBatchJobsPerSec },
  'process-1': { jobsPerSec: PROTOTYPE.process1JobsPerSec },
  'process-2': { jobsPerSec: PROTOTYPE.process2JobsPerSec },
  'process-sim-1': { jobsPerSec: PROTOTYPE.process1JobsPerSec },
  'process-sim-2': { jobsPerSec: PROTOTYPE.process2JobsPerSec },
  // Its worker was a process of its own answering each job at once: beside the real agent
  // with a no-op task, and the simulated agent.
  'lone-latency': { p50Ms: PROTOTYPE.loneP50Ms, p99Ms: PROTOTYPE.loneP99Ms },
  'lone-sim': { p50Ms: PROTOTYPE.loneP50Ms, p99Ms: PROTOTYPE.loneP99Ms },
};
