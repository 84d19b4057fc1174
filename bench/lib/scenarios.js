import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { startChild } from './children.js';
import { createClient } from './http.js';
import { perfReport } from './perf.js';
import { cpuSecondsWithChildren, peakRssMiB } from './proc.js';
import { summarizeProfile } from './profile.js';
import { startRealAgent } from './real-agent.js';
import { readLines, startBenchServer } from './server-process.js';
import { mean, percentile } from './stats.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SUBMITTER = path.join(benchDir, 'submitter.js');
const AGENT = path.join(benchDir, 'sim-agent.js');
const NOOP_TASKS = path.join(benchDir, 'fixtures/noop-tasks.mjs');

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
    shell: { n: 20, warmup: 3 },
    tasks: [200],
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
    shell: { n: 200, warmup: 10 },
    tasks: [20_000],
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
    shell: { n: 200, warmup: 10 },
    tasks: [20_000],
  },
};
/** @typedef {keyof typeof MODES} Mode */

export const PROCESS_MAX = 500;
export const SINGLE_CONCURRENCY = 50;
export const BATCH_SIZE = 1_000;
/** In-flight command jobs (and bare spawns) of the shell-throughput case. */
export const SHELL_CONCURRENCY = 8;
/** `--max-jobs` of the real agents in the task-throughput cases. */
export const TASK_MAX_JOBS = 500;

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
  cases.push({
    id: `shell-overhead@${k(m.shell.n)}`,
    group: 'shell-overhead',
    size: `${k(m.shell.n)} sequential \`true\`, 1 real agent, --max-jobs 1`,
    run: (o) => shellCase(m.shell, 1, o),
  });
  cases.push({
    id: `shell-throughput@${k(m.shell.n)}`,
    group: 'shell-throughput',
    size: `${k(m.shell.n)} \`true\`, ${SHELL_CONCURRENCY} in flight, --max-jobs ${SHELL_CONCURRENCY}`,
    run: (o) => shellCase(m.shell, SHELL_CONCURRENCY, o),
  });
  for (const agents of [1, 2]) {
    for (const n of m.tasks) {
      cases.push({
        id: `task-throughput-${agents}@${k(n)}`,
        group: `task-throughput-${agents}`,
        size: `${k(n)} no-op tasks, ${agents} real agent${agents > 1 ? 's' : ''}, --max-jobs ${TASK_MAX_JOBS}`,
        run: (o) => taskCase(agents, n, o),
      });
    }
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

/**
 * Runs `n` calls of `fn` with `concurrency` in flight; returns each call's duration (ms).
 * @param {number} n
 * @param {number} concurrency
 * @param {() => Promise<void>} fn
 */
async function timedLoops(n, concurrency, fn) {
  /** @type {number[]} */
  const ms = [];
  let next = 0;
  const loop = async () => {
    while (next < n) {
      next++;
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return ms;
}

/** A bare `child_process.spawn('true')`, resolved at its exit. */
function bareTrue() {
  return new Promise((resolve, reject) => {
    const p = spawn('true', [], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(undefined) : reject(new Error(`true exited ${code}`)),
    );
  });
}

/**
 * `true` as a command job through one real agent (`offload agent`), each submitted with
 * `POST /api/v1/jobs?wait=30`, against a bare spawn of `true` by this process, same N and
 * concurrency.
 * @param {{ n: number, warmup: number }} s
 * @param {number} concurrency
 * @param {import('./server-process.js').ServerOptions} opts
 */
async function shellCase(s, concurrency, opts) {
  return withServer(opts, async (server) => {
    const join = await server.joinToken('bench-shell');
    const agent = startRealAgent({
      url: server.url,
      join,
      name: 'bench-shell',
      maxJobs: concurrency,
      label: 'agent(shell)',
    });
    const client = createClient(server.url, { connections: concurrency, token: server.adminToken });
    try {
      await agent.registered;
      // A command job reserves 1 CPU by default: on a 2-core machine that allows 2 at once.
      const body = JSON.stringify(
        concurrency > 1 ? { command: ['true'], requires: { cpu: 0.1 } } : { command: ['true'] },
      );
      /** @type {string[]} */
      const bad = [];
      const submit = async () => {
        const res = await client.call('POST', '/api/v1/jobs?wait=30', body);
        const state = res.status === 200 ? JSON.parse(res.text).state : `HTTP ${res.status}`;
        if (state !== 'succeeded') bad.push(`${state}: ${res.text.slice(0, 300)}`);
      };
      await timedLoops(Math.max(s.warmup, concurrency), concurrency, submit);
      const self0 = cpuSecondsWithChildren('self') ?? NaN;
      const agent0 = cpuSecondsWithChildren(agent.pid) ?? NaN;
      const w = await server.window(async () => {
        const t0 = performance.now();
        const lat = await timedLoops(s.n, concurrency, submit);
        return { lat, elapsedMs: performance.now() - t0 };
      });
      // The agent's own CPU plus its reaped children's: the per-job supervisors and `true`.
      const agentCpuSec = (cpuSecondsWithChildren(agent.pid) ?? NaN) - agent0;
      const driverCpuSec = (cpuSecondsWithChildren('self') ?? NaN) - self0;
      const agentPeakRssMiB = peakRssMiB(agent.pid) ?? NaN;
      const counts = await server.counts();
      const total = s.n + Math.max(s.warmup, concurrency);
      check(bad.length === 0, `${bad.length} jobs did not succeed: ${bad[0]}`);
      check(counts.succeeded === total, `succeeded ${counts.succeeded}, expected ${total}`);

      await timedLoops(Math.max(s.warmup, concurrency), concurrency, bareTrue);
      const b0 = performance.now();
      const bare = await timedLoops(s.n, concurrency, bareTrue);
      const bareElapsedMs = performance.now() - b0;

      const lat = w.value.lat;
      const clientCpuSec = agentCpuSec + driverCpuSec;
      /** @type {Record<string, number>} */
      const metrics =
        concurrency === 1
          ? {
              p50Ms: percentile(lat, 50),
              meanMs: mean(lat),
              bareP50Ms: percentile(bare, 50),
              bareMeanMs: mean(bare),
              ratioP50: percentile(lat, 50) / percentile(bare, 50),
              ratioMean: mean(lat) / mean(bare),
            }
          : {
              jobsPerSec: s.n / (w.value.elapsedMs / 1000),
              bareJobsPerSec: s.n / (bareElapsedMs / 1000),
              ratioTime: w.value.elapsedMs / bareElapsedMs,
            };
      metrics.agentCpuMsPerJob = (1000 * agentCpuSec) / s.n;
      metrics.agentPeakRssMiB = agentPeakRssMiB;
      return {
        metrics,
        jobs: s.n,
        serverCpuSec: w.serverCpuSec,
        serverSysSec: w.serverSysSec,
        wallMs: w.wallMs,
        machineCpuPct: w.machineCpuPct,
        clientCpuSec,
        otherCpuPct: otherCpuPct(w, clientCpuSec),
        checks: `${counts.succeeded} succeeded`,
        extra: { agentCpuSec, driverCpuSec, agentPeakRssMiB },
      };
    } finally {
      await client.close().catch(() => {});
      await agent.stop(10_000);
    }
  });
}

/**
 * No-op task jobs pre-filled, then 1 or 2 real agents (`offload agent --tasks`) started; from
 * the first job taken to the last one finished, polling GET /api/v1/stats every 20 ms.
 * @param {number} agentCount
 * @param {number} n
 * @param {import('./server-process.js').ServerOptions} opts
 */
async function taskCase(agentCount, n, opts) {
  return withServer(opts, async (server) => {
    await server.fill(n);
    /** @type {string[]} */
    const joins = [];
    for (let i = 0; i < agentCount; i++) joins.push(await server.joinToken(`bench-task-${i}`));
    /** @type {import('./real-agent.js').RealAgent[]} */
    const agents = [];
    try {
      const deadline = performance.now() + 300_000;
      const w = await server.window(async () => {
        for (let i = 0; i < agentCount; i++) {
          agents.push(
            startRealAgent({
              url: server.url,
              join: /** @type {string} */ (joins[i]),
              name: `bench-task-${i}`,
              maxJobs: TASK_MAX_JOBS,
              tasks: NOOP_TASKS,
              label: `agent(task-${i})`,
            }),
          );
        }
        /** @type {Error[]} */
        const failed = [];
        for (const a of agents) a.registered.catch((/** @type {Error} */ e) => failed.push(e));
        let startMs = NaN;
        for (;;) {
          const c = await server.counts();
          const now = performance.now();
          if (Number.isNaN(startMs) && (c.queued ?? 0) < n) startMs = now;
          const finished = (c.succeeded ?? 0) + (c.failed ?? 0) + (c.canceled ?? 0);
          if (finished >= n) return { startMs, endMs: now, counts: c };
          if (failed[0]) throw failed[0];
          if (now > deadline) throw new Error(`timed out: ${JSON.stringify(c)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      const agentCpuSec = agents
        .map((a) => cpuSecondsWithChildren(a.pid) ?? NaN)
        .reduce((x, y) => x + y, 0);
      const agentPeakRssMiB = Math.max(...agents.map((a) => peakRssMiB(a.pid) ?? NaN));
      const { startMs, endMs, counts } = w.value;
      check(
        counts.succeeded === n,
        `succeeded ${counts.succeeded}, expected ${n} (${JSON.stringify(counts)})`,
      );
      return {
        metrics: {
          jobsPerSec: n / ((endMs - startMs) / 1000),
          agentCpuMsPerJob: (1000 * agentCpuSec) / n,
          agentPeakRssMiB,
        },
        jobs: n,
        serverCpuSec: w.serverCpuSec,
        serverSysSec: w.serverSysSec,
        wallMs: w.wallMs,
        machineCpuPct: w.machineCpuPct,
        clientCpuSec: agentCpuSec,
        otherCpuPct: otherCpuPct(w, agentCpuSec),
        checks: `${counts.succeeded} succeeded`,
        extra: { agentCpuSec, agentPeakRssMiB, measuredMs: endMs - startMs },
      };
    } finally {
      await Promise.all(agents.map((a) => a.stop(10_000)));
    }
  });
}
