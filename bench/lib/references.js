/**
 * Reference figures measured in EARLIER runs on this kind of machine (2 vCPU AMD EPYC VM,
 * Node v20.20.2), not in the same run as offload's numbers. Running the anchors side by
 * side is a later issue. Each figure is the median of 3 repetitions in its source.
 */

/** ../shared/bench/anchors/RESULTS.md: BullMQ 6.7.0 on Redis 7.0.15 (no persistence), run of 2026-11-23. */
export const BULLMQ = {
  /** "Enqueue throughput": single 10k, 50 in flight. */
  submitSingleJobsPerSec: 35_389,
  /** "Enqueue throughput": bulk 50k (addBulk of 1,000). */
  submitBatchJobsPerSec: 36_505,
  /** "Processing throughput": defaults, C=100, 50,000 jobs queued. */
  processJobsPerSec: 28_264,
  /** "End-to-end latency of a lone job": defaults, e2e percentiles. */
  loneP50Ms: 0.63,
  loneP95Ms: 2.8,
  loneP99Ms: 4.64,
};

/**
 * ../shared/bench/limits/RESULTS.md: the bare HTTP + SQLite prototype (fastify 5,
 * better-sqlite3; no auth, validation, events or leases). Ceilings, not targets: 30–50 %
 * of them is a good result.
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
