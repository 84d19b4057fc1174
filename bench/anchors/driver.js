// One anchor measurement in its own process (the shared anchor harness's bench.js, adapted
// to this bench's line protocol and sizes): prints `{"type":"result", ...}` on stdout.
//
//   node bench/anchors/driver.js --anchor bullmq|pgboss|graphile
//        --test enqueue-bulk|enqueue-single|process|latency --n N [--warmup W] [--schema S]
//
// enqueue-bulk    N jobs in bulk adds of 1,000, after an untimed warm-up (no worker running)
// enqueue-single  N single adds from 50 concurrent loops, after an untimed warm-up
// process         N jobs bulk-added first, then the worker (its own process, no-op handler)
//                 started: jobs/s from its first handler call to the N-th completion seen in
//                 the queue's storage (polled every 2 ms once the handler has run N times)
// latency         an idle running worker (concurrency 1); W warm-up jobs, a 1 s rest, then N
//                 sequential jobs, each timed from add to completion seen by the producer
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownCpuSec, parseArgs, runChild, send } from '../lib/child-io.js';
import { cpuSeconds, machineJiffies, peakRssMiB, treeCpuSeconds } from '../lib/proc.js';
import { latencyFigures } from '../lib/stats.js';
import { loadAnchor } from './adapter.js';

const args = parseArgs();
const test = args.test ?? '';
const n = Number(args.n ?? 1_000);
const warmup = Number(args.warmup ?? 500);
const BULK = 1_000;
const IN_FLIGHT = 50;
const A = await loadAnchor(args.anchor ?? '');
/** @type {import('./adapter.js').AnchorContext} */
const ctx = {
  mode: test === 'process' ? 'process' : test === 'latency' ? 'latency' : 'enqueue',
  schema: args.schema ?? 'bench_anchor',
};
const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js');

/** The payload of the anchor harness: about 70 bytes of JSON. @param {number} i */
const payload = (i) => ({
  i,
  user: `user-${i % 1000}`,
  action: 'send-email',
  ts: 1700000000000 + i,
});
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A CPU/wall window over the database process tree (the prototype: its server), this process
 * and (optionally) a worker.
 * @param {number | null} dbPid
 * @param {number} [workerPid]
 */
function openWindow(dbPid, workerPid) {
  const t0 = performance.now();
  const m0 = machineJiffies();
  const own0 = ownCpuSec();
  const db0 = dbPid ? treeCpuSeconds(dbPid) : NaN;
  const w0 = workerPid ? (cpuSeconds(workerPid) ?? NaN) : 0;
  return () => {
    const wallMs = performance.now() - t0;
    const m1 = machineJiffies();
    const dbCpuSec = dbPid ? treeCpuSeconds(dbPid) - db0 : NaN;
    return {
      wallMs,
      driverCpuSec: ownCpuSec() - own0,
      ...(A.ownServer
        ? { serverCpuSec: dbCpuSec, dbCpuSec: NaN, serverPeakRssMiB: dbPid && peakRssMiB(dbPid) }
        : { dbCpuSec }),
      workerCpuSec: workerPid ? (cpuSeconds(workerPid) ?? NaN) - w0 : 0,
      machineCpuPct:
        m1.total > m0.total ? (200 * (m1.busy - m0.busy)) / (m1.total - m0.total) : NaN,
    };
  };
}

/**
 * @param {import('./adapter.js').Producer} p
 * @param {number} from
 * @param {number} count
 */
async function bulkAdd(p, from, count) {
  for (let s = 0; s < count; s += BULK) {
    const chunk = [];
    for (let i = s; i < Math.min(count, s + BULK); i++) chunk.push(payload(from + i));
    await p.bulk(chunk);
  }
}

/**
 * @param {import('./adapter.js').Producer} p
 * @param {number} from
 * @param {number} count
 */
async function singleAdds(p, from, count) {
  let next = 0;
  const loop = async () => {
    while (next < count) await p.add(payload(from + next++));
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, loop));
}

/** The worker in its own process, and its IPC messages. @param {number} target */
function startWorker(target) {
  const child = fork(WORKER, [JSON.stringify({ anchor: A.id, ctx, target })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  /** @type {Map<string, Array<() => void>>} */
  const waiters = new Map();
  const exited = new Promise((r) => child.on('exit', r));
  child.on('message', (/** @type {{ t: string }} */ m) => {
    for (const w of waiters.get(m.t) ?? []) w();
    waiters.delete(m.t);
  });
  return {
    pid: /** @type {number} */ (child.pid),
    /** @param {{ t: string }} m */
    send: (m) => child.send(m),
    /**
     * @param {string} t
     * @param {number} [timeoutMs]
     * @returns {Promise<void>}
     */
    wait: (t, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`worker: no ${t} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        void exited.then(() => reject(new Error(`worker exited before ${t}`)));
        waiters.set(t, [
          ...(waiters.get(t) ?? []),
          () => {
            clearTimeout(timer);
            resolve();
          },
        ]);
      }),
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ t: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

runChild(async () => {
  await A.setup(ctx);
  const dbPid = await A.databasePid();
  const p = await A.producer(ctx);
  try {
    if (test === 'enqueue-bulk' || test === 'enqueue-single') {
      const add = test === 'enqueue-bulk' ? bulkAdd : singleAdds;
      await add(p, 1e9, warmup);
      const close = openWindow(dbPid);
      await add(p, 0, n);
      const w = close();
      send({
        type: 'result',
        jobs: n,
        jobsPerSec: n / (w.wallMs / 1000),
        ...w,
        clientCpuSec: w.driverCpuSec,
      });
      return;
    }
    if (test === 'process') {
      await bulkAdd(p, 0, n);
      const worker = startWorker(n);
      try {
        await worker.wait('ready');
        const first = worker.wait('first');
        const handled = worker.wait('handled', 600_000);
        worker.send({ t: 'start' });
        await first;
        const close = openWindow(dbPid, worker.pid);
        await handled;
        while ((await p.completed()) < n) await sleep(2);
        const w = close();
        const rss = peakRssMiB(worker.pid);
        send({
          type: 'result',
          jobs: n,
          jobsPerSec: n / (w.wallMs / 1000),
          ...w,
          clientCpuSec: w.workerCpuSec + w.driverCpuSec,
          workerPeakRssMiB: rss,
        });
      } finally {
        await worker.stop();
      }
      return;
    }
    if (test === 'latency') {
      const worker = startWorker(-1);
      try {
        await worker.wait('ready');
        const started = worker.wait('started');
        worker.send({ t: 'start' });
        await started;
        for (let k = 0; k < warmup; k++) await p.waitDone(await p.one(payload(1e9 + k)));
        await sleep(1_000);
        /** @type {number[]} */
        const lat = [];
        const close = openWindow(dbPid, worker.pid);
        for (let k = 0; k < n; k++) {
          const t0 = performance.now();
          await p.waitDone(await p.one(payload(k)));
          lat.push(performance.now() - t0);
        }
        const w = close();
        send({
          type: 'result',
          jobs: n,
          ...latencyFigures(lat),
          ...w,
          clientCpuSec: w.workerCpuSec + w.driverCpuSec,
          workerPeakRssMiB: peakRssMiB(worker.pid),
        });
      } finally {
        await worker.stop();
      }
      return;
    }
    throw new Error(`unknown --test ${test}`);
  } finally {
    await p.close();
    await A.teardown(ctx);
  }
});
