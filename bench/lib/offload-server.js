import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeAllocations } from './alloc-profile.js';
import { perfReport } from './perf.js';
import { dropSchema, freshSchema, offloadStoreUrl, postmasterPid } from './postgres.js';
import { summarizeProfile } from './profile.js';
import { startBenchServer } from './server-process.js';

/** @typedef {import('./modes.js').CaseResult} CaseResult */
/** @typedef {import('./server-process.js').BenchServer} BenchServer */
/** @typedef {import('./server-process.js').ServerOptions} ServerOptions */
/** @typedef {'sqlite' | 'postgres'} OffloadStore */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Runs `fn` against `count` fresh servers on one fresh store (SQLite: one server, a new
 * file; PostgreSQL: a new schema, dropped after), adds the first server's peak RSS and, when
 * asked, its CPU profile. The first server starts alone (it applies the migrations).
 * @param {OffloadStore} store
 * @param {ServerOptions} opts
 * @param {(servers: BenchServer[]) => Promise<CaseResult>} fn
 * @param {number} [count]
 * @returns {Promise<CaseResult>}
 */
export async function withServers(store, opts, fn, count = 1) {
  if (store === 'sqlite' && count !== 1) throw new Error('SQLite serves one server');
  const schema = store === 'postgres' ? freshSchema('bench_offload') : null;
  const pg = schema ? { store: offloadStoreUrl(schema), dbPid: await postmasterPid() } : {};
  /** @type {BenchServer[]} */
  const servers = [];
  /** @type {CaseResult} */
  let result;
  try {
    servers.push(await startBenchServer({ ...opts, ...pg, adminId: 'admin_bench_0' }));
    const rest = Array.from({ length: count - 1 }, (_, i) =>
      startBenchServer({ ...pg, adminId: `admin_bench_${i + 1}` }),
    );
    // Every started server is stopped, even when one of them fails to start.
    const started = await Promise.allSettled(rest);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    result = await fn(servers);
    const rss = servers.map((s) => s.peakRssMiB() ?? NaN);
    result.peakRssMiB = Math.max(...rss);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    if (schema) await dropSchema(schema);
  }
  const first = /** @type {BenchServer} */ (servers[0]);
  const last = first.windows.at(-1);
  if (last?.perfFile) result.perf = perfReport(last.perfFile, first.pid);
  if (last?.allocFile) result.allocs = summarizeAllocations(last.allocFile, { root });
  if (opts.cpuProfDir && last) {
    // `node --cpu-prof` writes CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile at exit.
    const file = readdirSync(opts.cpuProfDir).find(
      (f) => f.split('.')[3] === String(first.pid) && f.endsWith('.cpuprofile'),
    );
    if (file) {
      result.profile = summarizeProfile(path.join(opts.cpuProfDir, file), {
        fromUs: last.monoStartUs,
        toUs: last.monoEndUs,
        root,
      });
    }
  }
  return result;
}

/**
 * One server on a fresh store: see withServers.
 * @param {OffloadStore} store
 * @param {ServerOptions} opts
 * @param {(server: BenchServer) => Promise<CaseResult>} fn
 */
export function withServer(store, opts, fn) {
  return withServers(store, opts, ([server]) => fn(/** @type {BenchServer} */ (server)));
}

/**
 * The share of the machine (% of one core) busy with other work than the server, the
 * database and the benchmark's clients during a window.
 * @param {{ machineCpuPct: number, serverCpuSec: number, wallMs: number, dbCpuSec?: number }} w
 * @param {number} clientCpuSec
 */
export function otherCpuPct(w, clientCpuSec) {
  const db = Number.isFinite(w.dbCpuSec) ? (w.dbCpuSec ?? 0) : 0;
  return w.machineCpuPct - (100 * (w.serverCpuSec + clientCpuSec + db)) / (w.wallMs / 1000);
}

/**
 * @param {unknown} cond
 * @param {string} message
 * @returns {asserts cond}
 */
export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}
