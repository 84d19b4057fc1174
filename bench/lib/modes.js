// Sizes per mode, the shapes of a case and of its result, and the fixed knobs of the cases.

/**
 * @typedef {object} CaseResult
 * @property {Record<string, number>} metrics
 * @property {number} jobs jobs in the measured window (for CPU per 1k jobs)
 * @property {number} serverCpuSec offload's server(s) over the window; 0 for an anchor (none)
 * @property {number} serverSysSec
 * @property {number} wallMs
 * @property {number} machineCpuPct
 * @property {number} clientCpuSec every process the case runs besides the server and the database
 * @property {number} otherCpuPct the rest of the machine's busy share (% of one core)
 * @property {string} checks what was verified
 * @property {number | null} [peakRssMiB] offload's server
 * @property {number} [agentCpuSec] the agents (offload) or the worker (anchors) over the window
 * @property {number | null} [agentPeakRssMiB]
 * @property {number} [dbCpuSec] PostgreSQL's backends or redis-server over the window
 * @property {Record<string, unknown>} [extra]
 * @property {import('./perf.js').PerfSummary} [perf]
 * @property {import('./profile.js').ProfileSummary} [profile]
 * @property {import('./alloc-profile.js').AllocSummary} [allocs]
 * @property {number} [loadBeforePct]
 * @property {number} [noisyRuns] measurements thrown away because other work loaded the machine
 */
/**
 * @typedef {object} Case
 * @property {string} id what --only matches: `<group>@<size>/<system id>`
 * @property {string} group the measurement (rows of one group sit together)
 * @property {string} size
 * @property {import('./systems.js').System} system
 * @property {(o: import('./server-process.js').ServerOptions) => Promise<CaseResult>} run
 */
/** @typedef {{ n: number, warmup: number }} Sized */

/**
 * Sizes per mode. Smoke checks the harness works (no meaningful numbers); quick takes a few
 * minutes; full has the sizes (50,000 no-op jobs, 1,000 lone jobs, 1M queued).
 */
export const MODES = {
  smoke: {
    reps: 1,
    submitSingle: { n: 200, warmup: 50 },
    submitBatch: { n: 1_000, warmup: 100 },
    process: 300,
    simProcess: 300,
    lone: [{ n: 30, warmup: 10 }],
    depth: { depths: [100, 1_000], samples: 50, warmup: 10 },
    shell: { n: 10, warmup: 3 },
    multi: { servers: [1, 3], agents: 3, process: 300, lone: { n: 20, warmup: 5 }, capSec: 5 },
  },
  quick: {
    reps: 1,
    submitSingle: { n: 5_000, warmup: 500 },
    submitBatch: { n: 20_000, warmup: 1_000 },
    process: 20_000,
    simProcess: 50_000,
    lone: [{ n: 1_000, warmup: 1_000 }],
    depth: { depths: [1_000, 100_000], samples: 500, warmup: 1_000 },
    shell: { n: 100, warmup: 500 },
    multi: {
      servers: [1, 3],
      agents: 3,
      process: 20_000,
      lone: { n: 1_000, warmup: 200 },
      capSec: 30,
    },
  },
  full: {
    reps: 3,
    submitSingle: { n: 10_000, warmup: 500 },
    submitBatch: { n: 50_000, warmup: 1_000 },
    process: 50_000,
    simProcess: 50_000,
    // 300 warm-up jobs leave offload's server JIT cold (p50 ~1.0 ms, ~1 ms server CPU per
    // job); 3,000 come near the steady state (p50 ~0.6 ms, ~0.5 ms), which 10,000 reach:
    // on the Xeon host (2026-11-25, one run each) offload's p50 was 1.14 ms after 1,000,
    // 0.87 after 10,000 and 0.90 after 30,000; BullMQ's 0.60, 0.53, 0.50; the floor's
    // 0.63, 0.43, 0.47. All three are shown.
    lone: [
      { n: 1_000, warmup: 300 },
      { n: 1_000, warmup: 3_000 },
      { n: 1_000, warmup: 10_000 },
    ],
    // quietRss: the deepest case also reads the server's resident set once it is quiet
    // (up to 45 s a run; see quietRssMiB in server-process.js).
    depth: { depths: [1_000, 1_000_000], samples: 500, warmup: 1_000, quietRss: true },
    // 10 warm-up jobs left the server and agent JIT cold: `true` p50 4.9–5.1 ms against
    // 3.3–3.6 after 1,000 (bare spawn 1.2–1.4 ms, the same in both; quick mode, this host,
    // 2026-11-24). Measured like the lone job, on a worker that is already running.
    shell: { n: 200, warmup: 1_000 },
    multi: {
      servers: [1, 3],
      agents: 3,
      process: 50_000,
      lone: { n: 1_000, warmup: 1_000 },
      capSec: 60,
    },
  },
};
/** @typedef {keyof typeof MODES} Mode */
/** @typedef {(typeof MODES)[Mode]} Sizes */

/** `max` of the simulated agents' syncs (process, simulated agents). */
export const PROCESS_MAX = 500;
export const SINGLE_CONCURRENCY = 50;
export const BATCH_SIZE = 1_000;
/** In-flight command jobs (and bare spawns) of the shell-throughput case. */
export const SHELL_CONCURRENCY = 8;
/** `--max-jobs` of the real agents in the processing cases. */
export const TASK_MAX_JOBS = 500;

/**
 * 1,000 → "1k", 1,000,000 → "1M".
 * @param {number} n
 */
export const k = (n) =>
  n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n);
