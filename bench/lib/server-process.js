import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './children.js';
import { createClient } from './http.js';
import { jobSpecJson } from './jobs.js';
import { startPerf } from './perf.js';
import {
  cpuSeconds,
  cpuTimes,
  machineJiffies,
  peakRssMiB,
  rssMiB,
  treeCpuSeconds,
} from './proc.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @template T
 * @typedef {object} Window
 * @property {T} value what the measured function returned
 * @property {number} serverCpuSec utime + stime of the server over the window
 * @property {number} serverUserSec
 * @property {number} serverSysSec
 * @property {number} wallMs
 * @property {number} machineCpuPct busy share of the whole machine, % of one core (200 = both)
 * @property {number} watchedCpuSec CPU seconds of the watched pids over the window
 * @property {number | null} rssStartMiB the server's resident set when the window opened
 * @property {number} dbCpuSec CPU seconds of the database's process tree (NaN without one)
 */

/** @typedef {{ cpuProfDir?: string | undefined, perfDir?: string | undefined, allocProfDir?: string | undefined }} ServerOptions */
/**
 * @typedef {object} StoreOptions
 * @property {string} [store] a PostgreSQL URL with `schema=` (default: SQLite in the data dir)
 * @property {string} [adminId] the admin credential's id (unique per server on one database)
 * @property {number | null} [dbPid] the database server's pid, for its CPU time per window
 */
/** @typedef {Awaited<ReturnType<typeof startBenchServer>>} BenchServer */

/**
 * A fresh offload server in its own process over a fresh temp data dir (and, with `store`,
 * a PostgreSQL schema), with an admin client, the measuring-window helper, and `stop()`
 * that closes it and removes the dir (the caller drops the schema).
 * @param {ServerOptions & StoreOptions} [options]
 */
export async function startBenchServer({
  cpuProfDir,
  perfDir,
  allocProfDir,
  store,
  adminId,
  dbPid,
} = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'offload-bench-'));
  const nodeArgs = [
    ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []),
    ...(perfDir ? ['--perf-basic-prof'] : []),
  ];
  const args = ['--data-dir', dir];
  if (store) args.push('--store', store);
  if (adminId) args.push('--admin-id', adminId);
  const child = startChild(path.join(benchDir, 'server.js'), args, {
    nodeArgs,
    label: 'server',
  });
  /** @type {{ url: string, adminToken: string }} */
  let ready;
  try {
    const msg = await child.next('ready', 60_000);
    ready = { url: msg.url, adminToken: msg.adminToken };
  } catch (err) {
    await child.stop(1_000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const admin = createClient(ready.url, { connections: 2, token: ready.adminToken });
  const pid = child.pid;
  /** @type {Array<{ monoStartUs: number, monoEndUs: number, perfFile: string | null, allocFile: string | null }>} */
  const windows = [];

  return {
    url: ready.url,
    adminToken: ready.adminToken,
    pid,
    dir,
    admin,
    child,
    /** The windows measured so far (to cut a CPU profile to them). */
    windows,
    /**
     * The resident set once the server has been quiet: V8 gives the garbage of a burst (the
     * fill's 10,000-job requests) back to the system only after ~25–30 s without work
     * (SQLite, 1M queued: 246–279 MiB right after the fill, 166–169 once quiet; a forced
     * full collection did not lower it). Read each second until it has fallen by a tenth and
     * holds there, or for 45 s; the lowest reading then.
     */
    async quietRssMiB() {
      const first = rssMiB(pid);
      if (first === null) return NaN;
      let low = first;
      for (let i = 0; i < 45; i++) {
        await new Promise((r) => setTimeout(r, 1_000));
        const now = rssMiB(pid);
        if (now === null) return NaN; // the server is gone: no reading
        const settled = low <= first * 0.9 && Math.abs(now - low) < 1;
        low = Math.min(low, now);
        if (settled) break;
      }
      return low;
    },
    /**
     * Measures `fn`: the server's CPU time, the wall time, the machine's busy share, and the
     * CPU time of `watchPids` (other live processes). With perf on, samples the server then.
     * @template T
     * @param {() => Promise<T>} fn
     * @param {number[]} [watchPids]
     * @returns {Promise<Window<T>>}
     */
    async window(fn, watchPids = []) {
      const perfFile = perfDir ? path.join(perfDir, `perf-${pid}-${windows.length}.data`) : null;
      const perf = perfFile ? await startPerf(pid, perfFile) : null;
      const allocFile = allocProfDir
        ? path.join(allocProfDir, `alloc-${pid}-${windows.length}.heapprofile`)
        : null;
      if (allocFile) {
        child.send('alloc-start');
        await child.next('alloc-started');
      }
      const rssStartMiB = rssMiB(pid);
      const db0 = dbPid ? treeCpuSeconds(dbPid) : NaN;
      const watch0 = watchPids.map(cpuSeconds);
      const cpu0 = cpuTimes(pid);
      const m0 = machineJiffies();
      const monoStartUs = Number(process.hrtime.bigint() / 1000n);
      const t0 = performance.now();
      const value = await fn();
      const wallMs = performance.now() - t0;
      const monoEndUs = Number(process.hrtime.bigint() / 1000n);
      const cpu1 = cpuTimes(pid);
      const m1 = machineJiffies();
      const dbCpuSec = dbPid ? treeCpuSeconds(dbPid) - db0 : NaN;
      const watchedCpuSec = watchPids
        .map(cpuSeconds)
        .reduce((/** @type {number} */ a, c, i) => a + (c ?? NaN) - (watch0[i] ?? NaN), 0);
      if (perf) await perf.stop();
      if (allocFile) {
        child.send(`alloc-stop ${allocFile}`);
        await child.next('alloc-written');
      }
      windows.push({ monoStartUs, monoEndUs, perfFile, allocFile });
      if (!cpu0 || !cpu1) throw new Error('the server exited during the measurement');
      const serverUserSec = cpu1.user - cpu0.user;
      const serverSysSec = cpu1.sys - cpu0.sys;
      return {
        value,
        serverCpuSec: serverUserSec + serverSysSec,
        serverUserSec,
        serverSysSec,
        wallMs,
        machineCpuPct:
          m1.total > m0.total ? (200 * (m1.busy - m0.busy)) / (m1.total - m0.total) : NaN,
        watchedCpuSec,
        rssStartMiB,
        dbCpuSec,
      };
    },
    peakRssMiB: () => peakRssMiB(pid),
    /**
     * A join token for simulated agents.
     * @param {string} [name]
     * @returns {Promise<string>}
     */
    async joinToken(name = 'bench') {
      return (await admin.json('POST', '/api/v1/keys', { kind: 'join-token', name }, [201])).token;
    },
    /** @returns {Promise<Record<string, number>>} job counts by state from GET /api/v1/stats */
    async counts() {
      return (await admin.json('GET', '/api/v1/stats')).counts;
    },
    /**
     * Queues `n` no-op task jobs through POST /api/v1/jobs/batch (`size` per request, 2 in flight).
     * @param {number} n
     * @param {number} [size]
     */
    async fill(n, size = 5_000) {
      let next = 0;
      const one = async () => {
        while (next < n) {
          const from = next;
          const k = Math.min(size, n - from);
          next += k;
          const jobs = [];
          for (let i = from; i < from + k; i++) jobs.push(jobSpecJson(i));
          const res = await admin.call(
            'POST',
            '/api/v1/jobs/batch',
            `{"jobs":[${jobs.join(',')}]}`,
          );
          if (res.status !== 201)
            throw new Error(`fill at ${from}: ${res.status} ${res.text.slice(0, 300)}`);
        }
      };
      await Promise.all([one(), one()]);
    },
    async stop() {
      await admin.close().catch(() => {});
      const code = await child.stop(30_000);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** @param {string} file */
export function readLines(file) {
  const text = readFileSync(file, 'utf8');
  return text ? text.split('\n') : [];
}

/**
 * The figures of a measurement window that every case reports as they are.
 * @param {Window<unknown>} w
 */
export function windowFigures(w) {
  return {
    serverCpuSec: w.serverCpuSec,
    serverSysSec: w.serverSysSec,
    wallMs: w.wallMs,
    machineCpuPct: w.machineCpuPct,
    dbCpuSec: w.dbCpuSec,
  };
}
