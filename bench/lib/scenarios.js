import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './children.js';
import { perfReport } from './perf.js';
import { summarizeProfile } from './profile.js';
import { readLines, startBenchServer } from './server-process.js';
import { mean, percentile } from './stats.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SUBMITTER = path.join(benchDir, 'submitter.js');
const AGENT = path.join(benchDir, 'sim-agent.js');

/**
 * @typedef {object} CaseResult
 * @property {Record<string, number>} metrics
 * @property {number} jobs jobs in the measured window (for CPU per 1k jobs)
 * @property {number} serverCpuSec
 * @property {number} serverSysSec
 * @property {number} wallMs
 * @property {number} machineCpuPct
 * @property {number} clientCpuSec the benchmark's own clients over the window
 * @property {number} otherCpuPct the rest of the machine's busy share (% of one core)
 * @property {string} checks what was verified
 * @property {number | null} [peakRssMiB]
 * @property {Record<string, unknown>} [extra]
 * @property {import('./perf.js').PerfSummary} [perf]
 * @property {import('./profile.js').ProfileSummary} [profile]
 * @property {number} [loadBeforePct]
 * @property {number} [noisyRuns] measurements thrown away because other work loaded the machine
 */
/** @typedef {{ id: string, group: string, size: string, run: (o: import('./server-process.js').ServerOptions) => Promise<CaseResult> }} Case */
/** @typedef {{ n: number, warmup: number }} Sized */

/** Sizes per mode. Smoke checks the harness works (no meaningful numbers); quick takes a few minutes. */
export const MODES = {
  smoke: {
    reps: 1,
    submitSingle: [{ n: 200, warmup: 50 }],
    submitBatch: [{ n: 200, warmup: 100 }],
    process: [200],
    lone: [{ n: 50, warmup: 20 }],
    depth: { depths: [100, 1_000], samples: 50, warmup: 10 },
  },
  quick: {
    reps: 1,
    submitSingle: [{ n: 10_000, warmup: 500 }],
    submitBatch: [{ n: 50_000, warmup: 1_000 }],
    process: [50_000],
    // 300 warm-up jobs leave the server's JIT cold (p50 ~1.1 ms, ~1 ms server CPU per job);
    // 3,000 reach about the steady state (p50 ~0.6 ms, ~0.5 ms). Both are shown.
    lone: [
      { n: 1_000, warmup: 300 },
      { n: 1_000, warmup: 3_000 },
    ],
    depth: { depths: [1_000, 100_000], samples: 500, warmup: 1_000 },
  },
  full: {
    reps: 3,
    submitSingle: [
      { n: 10_000, warmup: 500 },
      { n: 50_000, warmup: 500 },
    ],
    submitBatch: [
      { n: 50_000, warmup: 1_000 },
      { n: 200_000, warmup: 1_000 },
    ],
    process: [50_000, 200_000],
    lone: [
      { n: 1_000, warmup: 300 },
      { n: 1_000, warmup: 3_000 },
    ],
    depth: { depths: [1_000, 100_000, 1_000_000], samples: 500, warmup: 1_000 },
  },
};
/** @typedef {keyof typeof MODES} Mode */

export const PROCESS_MAX = 500;
export const SINGLE_CONCURRENCY = 50;
export const BATCH_SIZE = 1_000;

/** @param {number} n */
const k = (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n));

/**
 * Every measurement of a mode, each in its own fresh server.
 * @param {Mode} mode
 * @returns {Case[]}
 */
export function buildCases(mode) {
  const m = MODES[mode];
  /** @type {Case[]} */
  const cases = [];
  for (const s of m.submitSingle) {
    cases.push({
      id: `submit-single@${k(s.n)}`,
      group: 'submit-single',
      size: `${k(s.n)} jobs, ${SINGLE_CONCURRENCY} in flight`,
      run: (o) => submitCase('single', s, o),
    });
  }
  for (const s of m.submitBatch) {
    cases.push({
      id: `submit-batch@${k(s.n)}`,
      group: 'submit-batch',
      size: `${k(s.n)} jobs, ${k(BATCH_SIZE)} per request`,
      run: (o) => submitCase('batch', s, o),
    });
  }
  for (const agents of [1, 2]) {
    for (const n of m.process) {
      cases.push({
        id: `process-${agents}@${k(n)}`,
        group: `process-${agents}`,
        size: `${k(n)} jobs, ${agents} agent${agents > 1 ? 's' : ''}, ${PROCESS_MAX}/claim`,
        run: (o) => processCase(agents, n, o),
      });
    }
  }
  for (const s of m.lone) {
    cases.push({
      id: `lone-latency@${k(s.warmup)}-warm`,
      group: 'lone-latency',
      size: `${k(s.n)} sequential, ${k(s.warmup)} warm-up`,
      run: (o) => loneCase(s, o),
    });
  }
  for (const depth of m.depth.depths) {
    cases.push({
      id: `claim-depth@${k(depth)}`,
      group: 'claim-depth',
      size: `${k(depth)} queued, ${m.depth.samples} cycles after ${k(m.depth.warmup)} warm-up`,
      run: (o) => depthCase(depth, m.depth, o),
    });
  }
  return cases;
}

/**
 * Runs `fn` against a fresh server, adds its peak RSS and, when asked, its CPU profiles.
 * @param {import('./server-process.js').ServerOptions} opts
 * @param {(server: import('./server-process.js').BenchServer) => Promise<CaseResult>} fn
 * @returns {Promise<CaseResult>}
 */
async function withServer(opts, fn) {
  const server = await startBenchServer(opts);
  /** @type {CaseResult} */
  let result;
  try {
    result = await fn(server);
    result.peakRssMiB = server.peakRssMiB();
  } finally {
    await server.stop();
  }
  const last = server.windows.at(-1);
  if (last?.perfFile) result.perf = perfReport(last.perfFile, server.pid);
  if (opts.cpuProfDir && last) {
    // `node --cpu-prof` writes CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile at exit.
    const file = readdirSync(opts.cpuProfDir).find(
      (f) => f.split('.')[3] === String(server.pid) && f.endsWith('.cpuprofile'),
    );
    if (file) {
      result.profile = summarizeProfile(path.join(opts.cpuProfDir, file), {
        fromUs: last.monoStartUs,
        toUs: last.monoEndUs,
        root: path.resolve(benchDir, '..'),
      });
    }
  }
  return result;
}

/**
 * The share of the machine (% of one core) busy with other work than the server and the
 * benchmark's clients during a window.
 * @param {{ machineCpuPct: number, serverCpuSec: number, wallMs: number }} w
 * @param {number} clientCpuSec
 */
function otherCpuPct(w, clientCpuSec) {
  return w.machineCpuPct - (100 * (w.serverCpuSec + clientCpuSec)) / (w.wallMs / 1000);
}

/**
 * @param {unknown} cond
 * @param {string} message
 * @returns {asserts cond}
 */
function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}

/**
 * @param {'single' | 'batch'} kind
 * @param {Sized} s
 * @param {import('./server-process.js').ServerOptions} opts
 */
async function submitCase(kind, s, opts) {
  return withServer(opts, async (server) => {
    const sub = startChild(
      SUBMITTER,
      [
        '--url',
        server.url,
        '--token',
        server.adminToken,
        '--mode',
        kind,
        '--n',
        String(s.n),
        '--warmup',
        String(s.warmup),
        '--concurrency',
        String(SINGLE_CONCURRENCY),
        '--batch',
        String(BATCH_SIZE),
      ],
      { label: `submitter(${kind})` },
    );
    await sub.next('ready');
    const w = await server.window(async () => {
      sub.send('go');
      return sub.next('result');
    });
    await sub.exited;
    const counts = await server.counts();
    check(counts.queued === s.n + s.warmup, `queued ${counts.queued}, expected ${s.n + s.warmup}`);
    return {
      metrics: { jobsPerSec: s.n / (w.value.elapsedMs / 1000) },
      jobs: s.n,
      serverCpuSec: w.serverCpuSec,
      serverSysSec: w.serverSysSec,
      wallMs: w.wallMs,
      machineCpuPct: w.machineCpuPct,
      clientCpuSec: w.value.cpuSec,
      otherCpuPct: otherCpuPct(w, w.value.cpuSec),
      checks: `${counts.queued} queued`,
    };
  });
}

/**
 * @param {number} agentCount
 * @param {number} n
 * @param {import('./server-process.js').ServerOptions} opts
 */
async function processCase(agentCount, n, opts) {
  return withServer(opts, async (server) => {
    await server.fill(n);
    /** @type {Array<{ child: import('./children.js').Child, idsFile: string }>} */
    const agents = [];
    for (let i = 0; i < agentCount; i++) {
      const join = await server.joinToken(`bench-${i}`);
      const idsFile = path.join(server.dir, `agent-${i}.ids`);
      const child = startChild(
        AGENT,
        [
          '--url',
          server.url,
          '--join',
          join,
          '--name',
          `bench-agent-${i}`,
          '--mode',
          'drain',
          '--max',
          String(PROCESS_MAX),
          '--wait-ms',
          '0',
          '--ids-file',
          idsFile,
        ],
        { label: `agent-${i}` },
      );
      agents.push({ child, idsFile });
    }
    await Promise.all(agents.map((a) => a.child.next('ready')));
    const w = await server.window(async () => {
      for (const a of agents) a.child.send('go');
      return Promise.all(agents.map((a) => a.child.next('result')));
    });
    await Promise.all(agents.map((a) => a.child.exited));
    const results = w.value;
    /** @param {(r: import('./children.js').Message) => number} f */
    const sum = (f) => results.reduce((a, r) => a + f(r), 0);
    const start = Math.min(...results.map((r) => r.startMs));
    const end = Math.max(...results.map((r) => r.endMs));
    const got = sum((r) => r.jobs);
    const ids = new Set();
    for (const a of agents) for (const id of readLines(a.idsFile)) ids.add(id);
    const stale = sum((r) => r.stale);
    const counts = await server.counts();
    check(got === n, `agents got ${got} jobs, expected ${n}`);
    check(ids.size === n, `${ids.size} distinct job ids, expected ${n}`);
    check(stale === 0, `${stale} completions refused as stale`);
    check(
      counts.succeeded === n,
      `succeeded ${counts.succeeded}, expected ${n} (${JSON.stringify(counts)})`,
    );
    const clientCpuSec = sum((r) => r.cpuSec);
    return {
      metrics: { jobsPerSec: n / ((end - start) / 1000) },
      jobs: n,
      serverCpuSec: w.serverCpuSec,
      serverSysSec: w.serverSysSec,
      wallMs: w.wallMs,
      machineCpuPct: w.machineCpuPct,
      clientCpuSec,
      otherCpuPct: otherCpuPct(w, clientCpuSec),
      checks: `${counts.succeeded} succeeded, ${ids.size} distinct ids, each ran once`,
      extra: { requests: sum((r) => r.requests), perAgentJobs: results.map((r) => r.jobs) },
    };
  });
}

/**
 * @param {Sized} s
 * @param {import('./server-process.js').ServerOptions} opts
 */
async function loneCase(s, opts) {
  return withServer(opts, async (server) => {
    const join = await server.joinToken();
    const agent = startChild(
      AGENT,
      [
        '--url',
        server.url,
        '--join',
        join,
        '--name',
        'bench-lone',
        '--mode',
        'lone',
        '--max',
        '50',
        '--wait-ms',
        '25000',
      ],
      {
        label: 'agent(lone)',
      },
    );
    /** @type {import('./children.js').Child | null} */
    let sub = null;
    try {
      await agent.next('ready');
      agent.send('go');
      // The submitter warms up as soon as it starts, against the agent's long poll.
      sub = startChild(
        SUBMITTER,
        [
          '--url',
          server.url,
          '--token',
          server.adminToken,
          '--mode',
          'lone',
          '--n',
          String(s.n),
          '--warmup',
          String(s.warmup),
          '--wait',
          '10',
        ],
        {
          label: 'submitter(lone)',
        },
      );
      const submitter = sub;
      await submitter.next('ready');
      const w = await server.window(async () => {
        submitter.send('go');
        return submitter.next('result');
      }, [agent.pid]);
      await submitter.exited;
      agent.send('stop');
      const agentResult = await agent.next('result');
      const counts = await server.counts();
      const total = s.n + s.warmup;
      check(agentResult.jobs === total, `agent ran ${agentResult.jobs} jobs, expected ${total}`);
      check(counts.succeeded === total, `succeeded ${counts.succeeded}, expected ${total}`);
      /** @type {number[]} */
      const lat = w.value.latenciesMs;
      const clientCpuSec = w.value.cpuSec + w.watchedCpuSec;
      return {
        metrics: {
          p50Ms: percentile(lat, 50),
          p95Ms: percentile(lat, 95),
          p99Ms: percentile(lat, 99),
          meanMs: mean(lat),
        },
        jobs: s.n,
        serverCpuSec: w.serverCpuSec,
        serverSysSec: w.serverSysSec,
        wallMs: w.wallMs,
        machineCpuPct: w.machineCpuPct,
        clientCpuSec,
        otherCpuPct: otherCpuPct(w, clientCpuSec),
        checks: `${counts.succeeded} succeeded`,
      };
    } finally {
      await agent.stop(5_000);
      await sub?.stop(5_000);
    }
  });
}

/**
 * @param {number} depth
 * @param {{ samples: number, warmup: number }} s
 * @param {import('./server-process.js').ServerOptions} opts
 */
async function depthCase(depth, s, opts) {
  return withServer(opts, async (server) => {
    // The warm-up cycles take the first `warmup` jobs (FIFO), so exactly `depth` are queued
    // when the measured cycles start.
    const t0 = performance.now();
    await server.fill(depth + s.warmup, 10_000);
    const fillSec = (performance.now() - t0) / 1000;
    const join = await server.joinToken();
    const agent = startChild(
      AGENT,
      [
        '--url',
        server.url,
        '--join',
        join,
        '--name',
        'bench-depth',
        '--mode',
        'depth',
        '--samples',
        String(s.samples),
        '--warmup',
        String(s.warmup),
      ],
      { label: 'agent(depth)' },
    );
    await agent.next('ready');
    agent.send('go');
    await agent.next('warm');
    const w = await server.window(async () => {
      agent.send('go');
      return agent.next('result');
    });
    await agent.exited;
    const counts = await server.counts();
    const done = s.samples + s.warmup;
    check(counts.succeeded === done, `succeeded ${counts.succeeded}, expected ${done}`);
    check(
      counts.queued === depth - s.samples,
      `queued ${counts.queued}, expected ${depth - s.samples}`,
    );
    /** @type {number[]} */
    const c = w.value.cyclesMs;
    return {
      metrics: { p50Ms: percentile(c, 50), p99Ms: percentile(c, 99), meanMs: mean(c) },
      jobs: s.samples,
      serverCpuSec: w.serverCpuSec,
      serverSysSec: w.serverSysSec,
      wallMs: w.wallMs,
      machineCpuPct: w.machineCpuPct,
      clientCpuSec: w.value.cpuSec,
      otherCpuPct: otherCpuPct(w, w.value.cpuSec),
      checks: `${counts.succeeded} succeeded, ${counts.queued} still queued`,
      extra: { fillJobsPerSec: (depth + s.warmup) / fillSec, rssQueuedMiB: w.rssStartMiB },
    };
  });
}
