import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropSchema, freshSchema } from './postgres.js';
import { startChild } from './children.js';

// An anchor queue's measurement (bench/anchors/driver.js in its own process, its worker in
// another) as a case result with the same fields as offload's.

/** @typedef {import('./modes.js').CaseResult} CaseResult */

const DRIVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../anchors/driver.js');

/**
 * @param {string} anchor bullmq | pgboss | graphile | prototype
 * @param {'enqueue-bulk' | 'enqueue-single' | 'process' | 'latency'} test
 * @param {{ n: number, warmup?: number }} size
 * @returns {Promise<CaseResult>}
 */
export async function anchorCase(anchor, test, { n, warmup = 0 }) {
  const schema = freshSchema(`bench_${anchor}`);
  const child = startChild(
    DRIVER,
    [
      ...['--anchor', anchor, '--test', test, '--n', String(n), '--warmup', String(warmup)],
      ...['--schema', schema],
    ],
    { label: `${anchor} ${test}` },
  );
  try {
    const r = await child.next('result');
    await child.exited;
    /** @type {Record<string, number>} */
    const metrics =
      test === 'latency'
        ? { p50Ms: r.p50Ms, p95Ms: r.p95Ms, p99Ms: r.p99Ms, maxMs: r.maxMs, meanMs: r.meanMs }
        : { jobsPerSec: r.jobsPerSec };
    const serverCpuSec = r.serverCpuSec ?? 0;
    const dbCpuSec = Number.isFinite(r.dbCpuSec) ? r.dbCpuSec : 0;
    const busy = (r.clientCpuSec + serverCpuSec + dbCpuSec) / (r.wallMs / 1000);
    return {
      metrics,
      jobs: r.jobs,
      // Only the prototype has a server of its own (bench/anchors/prototype.js).
      serverCpuSec,
      peakRssMiB: r.serverPeakRssMiB ?? null,
      serverSysSec: 0,
      wallMs: r.wallMs,
      machineCpuPct: r.machineCpuPct,
      clientCpuSec: r.clientCpuSec,
      ...(test === 'process' || test === 'latency'
        ? { agentCpuSec: r.workerCpuSec, agentPeakRssMiB: r.workerPeakRssMiB }
        : {}),
      dbCpuSec: r.dbCpuSec,
      otherCpuPct: r.machineCpuPct - 100 * busy,
      checks: test === 'process' ? `${r.jobs} completed` : `${r.jobs} jobs`,
    };
  } finally {
    await child.stop(5_000);
    // The driver drops it; again in case it was killed first.
    if (anchor === 'pgboss' || anchor === 'graphile')
      await dropSchema(schema).catch(() => undefined);
  }
}
