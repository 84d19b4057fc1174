import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './children.js';
import { startRealAgent } from './real-agent.js';
import { cpuSeconds, peakRssMiB } from './proc.js';
import { BATCH_SIZE, PROCESS_MAX, SINGLE_CONCURRENCY } from './modes.js';
import { check, otherCpuPct, withServer, withServers } from './offload-server.js';
import { readLines, windowFigures } from './server-process.js';
import { latencyFigures, mean, percentile } from './stats.js';

// offload's cases with simulated agents and submitters (bench/sim-agent.js,
// bench/submitter.js), on SQLite or PostgreSQL.

/** @typedef {import('./modes.js').CaseResult} CaseResult */
/** @typedef {import('./modes.js').Sized} Sized */
/** @typedef {import('./offload-server.js').OffloadStore} OffloadStore */

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SUBMITTER = path.join(benchDir, 'submitter.js');
const AGENT = path.join(benchDir, 'sim-agent.js');
export const NOOP_TASKS = path.join(benchDir, 'fixtures/noop-tasks.mjs');

/**
 * @param {OffloadStore} store
 * @param {'single' | 'batch'} kind
 * @param {Sized} s
 * @param {import('./server-process.js').ServerOptions} opts
 * @returns {Promise<CaseResult>}
 */
export async function submitCase(store, kind, s, opts) {
  return withServer(store, opts, async (server) => {
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
      ...windowFigures(w),
      clientCpuSec: w.value.cpuSec,
      otherCpuPct: otherCpuPct(w, w.value.cpuSec),
      checks: `${counts.queued} queued`,
    };
  });
}

/**
 * @param {OffloadStore} store
 * @param {number} agentCount
 * @param {number} n
 * @param {import('./server-process.js').ServerOptions} opts
 * @returns {Promise<CaseResult>}
 */
export async function simProcessCase(store, agentCount, n, opts) {
  return withServer(store, opts, async (server) => {
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
      ...windowFigures(w),
      clientCpuSec,
      agentCpuSec: clientCpuSec,
      otherCpuPct: otherCpuPct(w, clientCpuSec),
      checks: `${counts.succeeded} succeeded, ${ids.size} distinct ids, each ran once`,
      extra: { requests: sum((r) => r.requests), perAgentJobs: results.map((r) => r.jobs) },
    };
  });
}

/**
 * An agent idling on a long poll for the lone-job case: the real one (`offload agent
 * --max-jobs 1 --tasks noop`, as the anchors' workers run at concurrency 1) or the simulated
 * one (bench/sim-agent.js), which answers each job at once and so shows the server's part.
 * @typedef {object} LoneAgent
 * @property {number} pid
 * @property {() => Promise<number | null>} stop stops it; the jobs it ran, when it counts them
 */

/**
 * @param {'real' | 'sim'} kind
 * @param {string} url
 * @param {string} join
 * @returns {Promise<LoneAgent>}
 */
async function startLoneAgent(kind, url, join) {
  if (kind === 'real') {
    const agent = startRealAgent({
      url,
      join,
      name: 'bench-lone',
      maxJobs: 1,
      tasks: NOOP_TASKS,
      label: 'agent(lone)',
    });
    await agent.registered;
    return { pid: agent.pid, stop: async () => (await agent.stop(5_000), null) };
  }
  const agent = startChild(
    AGENT,
    [
      ...['--url', url, '--join', join, '--name', 'bench-lone'],
      ...['--mode', 'lone', '--max', '50', '--wait-ms', '25000'],
    ],
    { label: 'agent(lone)' },
  );
  try {
    await agent.next('ready');
    agent.send('go');
  } catch (err) {
    await agent.stop(5_000);
    throw err;
  }
  return {
    pid: agent.pid,
    async stop() {
      agent.send('stop');
      const result = await agent.next('result');
      await agent.stop(5_000);
      return result.jobs;
    },
  };
}

/**
 * Lone-job latency: one agent long-polls (real or simulated, see startLoneAgent), a submitter
 * sends sequential `POST /api/v1/jobs?wait=10` (following a 202 with GET /jobs/:id/wait) and
 * times each. With several servers on one PostgreSQL, the submitter talks to the first and
 * the agent to the last, so every job crosses servers; `capSec` then bounds the warm-up and
 * the measured part each (a server that does not hear of the other's writes leaves a job
 * waiting for the agent's next poll), and the case reports how many jobs it timed.
 * @param {OffloadStore} store
 * @param {Sized} s
 * @param {import('./server-process.js').ServerOptions} opts
 * @param {{ servers?: number, capSec?: number, agent?: 'real' | 'sim' }} [how]
 * @returns {Promise<CaseResult>}
 */
export async function loneCase(
  store,
  s,
  opts,
  { servers: count = 1, capSec = 0, agent: agentKind = 'real' } = {},
) {
  return withServers(
    store,
    opts,
    async (servers) => {
      const server = /** @type {import('./server-process.js').BenchServer} */ (servers[0]);
      const agentServer = /** @type {import('./server-process.js').BenchServer} */ (servers.at(-1));
      const join = await agentServer.joinToken();
      const agent = await startLoneAgent(agentKind, agentServer.url, join);
      /** @type {import('./children.js').Child | null} */
      let sub = null;
      let stopped = false;
      try {
        // The submitter warms up as soon as it starts, against the agent's long poll.
        sub = startChild(
          SUBMITTER,
          [
            ...['--url', server.url, '--token', server.adminToken, '--mode', 'lone'],
            ...['--n', String(s.n), '--warmup', String(s.warmup), '--wait', '10'],
            ...(capSec > 0 ? ['--max-sec', String(capSec)] : []),
          ],
          { label: 'submitter(lone)' },
        );
        const submitter = sub;
        await submitter.next('ready');
        const others = servers.slice(1).map((x) => x.pid);
        const cpu = () => [agent.pid, ...others].map((pid) => cpuSeconds(pid) ?? NaN);
        const cpu0 = cpu();
        const w = await server.window(async () => {
          submitter.send('go');
          return submitter.next('result');
        });
        const [agentCpuSec = NaN, ...othersCpu] = cpu().map((c, i) => c - (cpu0[i] ?? NaN));
        const serverCpuSec = w.serverCpuSec + othersCpu.reduce((a, b) => a + b, 0);
        await submitter.exited;
        const agentRss = peakRssMiB(agent.pid);
        stopped = true;
        const ran = await agent.stop();
        const counts = await server.counts();
        /** @type {number[]} */
        const lat = w.value.latenciesMs;
        const total = lat.length + w.value.warmed;
        check(ran === null || ran === total, `agent ran ${ran} jobs, expected ${total}`);
        check(counts.succeeded === total, `succeeded ${counts.succeeded}, expected ${total}`);
        check(lat.length > 0, 'no job timed');
        const clientCpuSec = w.value.cpuSec + agentCpuSec;
        return {
          metrics: {
            ...latencyFigures(lat),
            ...(capSec > 0 ? { timed: lat.length } : {}),
          },
          jobs: lat.length,
          serverCpuSec,
          serverSysSec: w.serverSysSec,
          wallMs: w.wallMs,
          machineCpuPct: w.machineCpuPct,
          dbCpuSec: w.dbCpuSec,
          clientCpuSec,
          agentCpuSec,
          agentPeakRssMiB: agentRss,
          otherCpuPct: otherCpuPct({ ...w, serverCpuSec }, clientCpuSec),
          checks: `${counts.succeeded} succeeded`,
        };
      } finally {
        if (!stopped) await agent.stop().catch(() => null);
        await sub?.stop(5_000);
      }
    },
    count,
  );
}

/**
 * @param {OffloadStore} store
 * @param {number} depth
 * @param {{ depths: number[], samples: number, warmup: number, quietRss?: boolean }} s
 * @param {import('./server-process.js').ServerOptions} opts
 * @returns {Promise<CaseResult>}
 */
export async function depthCase(store, depth, s, opts) {
  return withServer(store, opts, async (server) => {
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
    const deepest = depth === Math.max(...s.depths);
    const rssQuietMiB = s.quietRss && deepest ? await server.quietRssMiB() : NaN;
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
      metrics: {
        p50Ms: percentile(c, 50),
        p99Ms: percentile(c, 99),
        meanMs: mean(c),
        rssQueuedMiB: w.rssStartMiB ?? NaN,
        rssQuietMiB,
      },
      jobs: s.samples,
      ...windowFigures(w),
      clientCpuSec: w.value.cpuSec,
      otherCpuPct: otherCpuPct(w, w.value.cpuSec),
      checks: `${counts.succeeded} succeeded, ${counts.queued} still queued`,
      extra: { fillJobsPerSec: (depth + s.warmup) / fillSec, rssQueuedMiB: w.rssStartMiB },
    };
  });
}
