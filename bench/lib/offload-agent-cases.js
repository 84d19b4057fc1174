import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './children.js';
import { createClient } from './http.js';
import { TASK_MAX_JOBS } from './modes.js';
import { NOOP_TASKS } from './offload-cases.js';
import { check, otherCpuPct, withServer, withServers } from './offload-server.js';
import { windowFigures } from './server-process.js';
import { cpuSeconds, cpuSecondsWithChildren, peakRssMiB } from './proc.js';
import { startRealAgent } from './real-agent.js';
import { mean, percentile } from './stats.js';
import { timedLoops } from './timed-loops.js';

const BARE_SPAWN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bare-spawn.js');

// offload's cases with the real agent (`offload agent` from the built CLI): shell jobs
// against a bare spawn, and no-op task processing on one server or several.

/** @typedef {import('./modes.js').CaseResult} CaseResult */
/** @typedef {import('./offload-server.js').OffloadStore} OffloadStore */

/**
 * `true` as a command job through one real agent (`offload agent`), each submitted with
 * `POST /api/v1/jobs?wait=30`, against a bare spawn of `true` by a fresh Node process
 * (bare-spawn.js), same N and concurrency.
 * @param {OffloadStore} store
 * @param {{ n: number, warmup: number }} s
 * @param {number} concurrency
 * @param {import('./server-process.js').ServerOptions} opts
 * @returns {Promise<CaseResult>}
 */
export async function shellCase(store, s, concurrency, opts) {
  return withServer(store, opts, async (server) => {
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
      // The agent with its supervisor host, which spawns the commands: their CPU is the host's
      // reaped children's (the host is no child of the agent).
      const hostPid = agent.hostPid();
      const agentCpu = () =>
        (cpuSecondsWithChildren(agent.pid) ?? NaN) +
        (hostPid === null ? 0 : (cpuSecondsWithChildren(hostPid) ?? NaN));
      const agent0 = agentCpu();
      const w = await server.window(async () => {
        const t0 = performance.now();
        const lat = await timedLoops(s.n, concurrency, submit);
        return { lat, elapsedMs: performance.now() - t0 };
      });
      const agentCpuSec = agentCpu() - agent0;
      const driverCpuSec = (cpuSecondsWithChildren('self') ?? NaN) - self0;
      const agentPeakRssMiB = peakRssMiB(agent.pid) ?? NaN;
      const counts = await server.counts();
      const total = s.n + Math.max(s.warmup, concurrency);
      check(bad.length === 0, `${bad.length} jobs did not succeed: ${bad[0]}`);
      check(counts.succeeded === total, `succeeded ${counts.succeeded}, expected ${total}`);

      const spawner = startChild(
        BARE_SPAWN,
        ['--n', String(s.n), '--warmup', String(s.warmup), '--concurrency', String(concurrency)],
        { label: 'bare spawn' },
      );
      const spawned = await spawner.next('result');
      /** @type {number[]} */
      const bare = spawned.lat;
      /** @type {number} */
      const bareElapsedMs = spawned.elapsedMs;
      await spawner.exited;

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
      return {
        metrics,
        jobs: s.n,
        ...windowFigures(w),
        clientCpuSec,
        agentCpuSec,
        agentPeakRssMiB,
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
 * No-op task jobs pre-filled through the first server, then `agents` real agents
 * (`offload agent --tasks`) started together, spread over the servers (agent i on server
 * i mod N); from the first job taken to the last one finished, polling GET /api/v1/stats of
 * the first server every 20 ms. Server CPU is every server's.
 * @param {OffloadStore} store
 * @param {{ servers: number, agents: number, n: number }} size
 * @param {import('./server-process.js').ServerOptions} opts
 * @returns {Promise<CaseResult>}
 */
export async function taskCase(store, { servers: serverCount, agents: agentCount, n }, opts) {
  return withServers(
    store,
    opts,
    async (servers) => {
      const first = /** @type {import('./server-process.js').BenchServer} */ (servers[0]);
      const serverOf = (/** @type {number} */ i) =>
        /** @type {import('./server-process.js').BenchServer} */ (servers[i % servers.length]);
      await first.fill(n);
      /** @type {string[]} */
      const joins = [];
      for (let i = 0; i < agentCount; i++)
        joins.push(await serverOf(i).joinToken(`bench-task-${i}`));
      const others = servers.slice(1).map((s) => s.pid);
      const others0 = others.map((pid) => cpuSeconds(pid) ?? NaN);
      /** @type {import('./real-agent.js').RealAgent[]} */
      const agents = [];
      try {
        const deadline = performance.now() + 600_000;
        const w = await first.window(async () => {
          for (let i = 0; i < agentCount; i++) {
            agents.push(
              startRealAgent({
                url: serverOf(i).url,
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
            const c = await first.counts();
            const now = performance.now();
            if (Number.isNaN(startMs) && (c.queued ?? 0) < n) startMs = now;
            const finished = (c.succeeded ?? 0) + (c.failed ?? 0) + (c.canceled ?? 0);
            if (finished >= n) return { startMs, endMs: now, counts: c };
            if (failed[0]) throw failed[0];
            if (now > deadline) throw new Error(`timed out: ${JSON.stringify(c)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        });
        const otherServersCpuSec = others
          .map((pid, i) => (cpuSeconds(pid) ?? NaN) - (others0[i] ?? NaN))
          .reduce((a, b) => a + b, 0);
        const agentCpuSec = agents
          .map((a) => cpuSecondsWithChildren(a.pid) ?? NaN)
          .reduce((x, y) => x + y, 0);
        const agentPeakRssMiB = Math.max(...agents.map((a) => peakRssMiB(a.pid) ?? NaN));
        const { startMs, endMs, counts } = w.value;
        check(
          counts.succeeded === n,
          `succeeded ${counts.succeeded}, expected ${n} (${JSON.stringify(counts)})`,
        );
        const serverCpuSec = w.serverCpuSec + otherServersCpuSec;
        return {
          metrics: { jobsPerSec: n / ((endMs - startMs) / 1000) },
          jobs: n,
          ...windowFigures(w),
          serverCpuSec,
          clientCpuSec: agentCpuSec,
          agentCpuSec,
          agentPeakRssMiB,
          otherCpuPct: otherCpuPct({ ...w, serverCpuSec }, agentCpuSec),
          checks: `${counts.succeeded} succeeded`,
          extra: { measuredMs: endMs - startMs },
        };
      } finally {
        await Promise.all(agents.map((a) => a.stop(10_000)));
      }
    },
    serverCount,
  );
}
