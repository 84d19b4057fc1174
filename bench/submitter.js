// The submitting client of the benchmarks, in its own process.
//
//   node bench/submitter.js --url URL --token TOKEN --mode single|batch|lone [...]
//
// Each mode first runs an untimed warm-up (--warmup jobs), prints `ready`, waits for `go`
// on stdin, then runs the measured part and prints `result`:
//   single  --n jobs as single POST /api/v1/jobs from --concurrency (50) loops → elapsedMs
//   batch   --n jobs as POST /api/v1/jobs/batch of --batch (1,000), one at a time → elapsedMs
//   lone    --n sequential POST /api/v1/jobs?wait=SEC (--wait 10; a 202 is followed by
//           GET /api/v1/jobs/:id/wait until the job is terminal), each timed → latenciesMs;
//           with --max-sec S, the warm-up and the measured part each stop after S seconds
import { nextCommand, ownCpuSec, parseArgs, runChild, send } from './lib/child-io.js';
import { createClient } from './lib/http.js';
import { jobSpecJson } from './lib/jobs.js';

const args = parseArgs();
const mode = args.mode;
if (!args.url || !args.token) throw new Error('--url and --token are required');
const n = Number(args.n ?? 1_000);
const warmup = Number(args.warmup ?? 0);
const concurrency = mode === 'single' ? Number(args.concurrency ?? 50) : 1;
const maxSec = Number(args['max-sec'] ?? 0);
const http = createClient(args.url, { connections: concurrency, token: args.token });

/**
 * @param {number} from
 * @param {number} count
 * @param {number} loops
 */
async function singles(from, count, loops) {
  let next = from;
  const end = from + count;
  const loop = async () => {
    while (next < end) {
      const i = next++;
      const res = await http.call('POST', '/api/v1/jobs', jobSpecJson(i));
      if (res.status !== 201)
        throw new Error(`submit ${i}: ${res.status} ${res.text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(loops, count) }, loop));
}

/**
 * @param {number} from
 * @param {number} count
 * @param {number} size
 */
async function batches(from, count, size) {
  for (let done = 0; done < count;) {
    const k = Math.min(size, count - done);
    const body = `{"jobs":[${Array.from({ length: k }, (_, j) => jobSpecJson(from + done + j)).join(',')}]}`;
    const res = await http.call('POST', '/api/v1/jobs/batch', body);
    if (res.status !== 201)
      throw new Error(`batch at ${done}: ${res.status} ${res.text.slice(0, 300)}`);
    done += k;
  }
}

/**
 * @param {number} from
 * @param {number} count
 * @param {number} waitSec
 * @param {number[] | undefined} latencies
 * @returns {Promise<number>} the jobs run
 */
async function lone(from, count, waitSec, latencies) {
  const until = maxSec > 0 ? performance.now() + maxSec * 1000 : Infinity;
  let i = from;
  for (; i < from + count && performance.now() < until; i++) {
    const t0 = performance.now();
    let res = await http.call('POST', `/api/v1/jobs?wait=${waitSec}`, jobSpecJson(i));
    // 202: not terminal within the wait (e.g. the job ran on another server that did not
    // tell this one); wait on.
    while (res.status === 202) {
      const id = /** @type {{ id: string }} */ (JSON.parse(res.text)).id;
      res = await http.call('GET', `/api/v1/jobs/${id}/wait?timeoutSec=${waitSec}`);
    }
    const ms = performance.now() - t0;
    if (res.status !== 200 && res.status !== 201)
      throw new Error(`job ${i}: ${res.status} ${res.text.slice(0, 300)}`);
    const state = /** @type {{ state: string }} */ (JSON.parse(res.text)).state;
    if (state !== 'succeeded') throw new Error(`job ${i} ended ${state}`);
    latencies?.push(ms);
  }
  return i - from;
}

runChild(async () => {
  const waitSec = Number(args.wait ?? 10);
  const batch = Number(args.batch ?? 1_000);
  /**
   * @param {number} from
   * @param {number} count
   * @param {number[]} [latencies]
   */
  const run = (from, count, latencies) => {
    if (mode === 'single') return singles(from, count, concurrency);
    if (mode === 'batch') return batches(from, count, batch);
    if (mode === 'lone') return lone(from, count, waitSec, latencies);
    throw new Error(`unknown --mode ${mode}`);
  };
  const warmed = warmup > 0 ? ((await run(1_000_000_000, warmup)) ?? warmup) : 0;
  send({ type: 'ready' });
  if ((await nextCommand()) !== 'go') return;
  /** @type {number[]} */
  const latenciesMs = [];
  const cpu0 = ownCpuSec();
  const t0 = performance.now();
  await run(0, n, latenciesMs);
  const elapsedMs = performance.now() - t0;
  send({
    type: 'result',
    cpuSec: ownCpuSec() - cpu0,
    n,
    elapsedMs,
    ...(mode === 'lone' && { latenciesMs, warmed }),
  });
});
