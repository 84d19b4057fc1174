// A simulated offload agent for the benchmarks: registers with `task:noop`, then claims
// over POST /api/v1/agent/sync and "runs" every job by reporting it succeeded at once,
// the completions riding on the next sync (pipelined). No executor and no heartbeats: the
// runs are far shorter than a lease.
//
//   node bench/sim-agent.js --url URL --join TOKEN --name NAME --mode drain|lone|depth [...]
//
// Each mode prints `ready` once registered, then waits for `go` on stdin:
//   drain  sync with --max (500) and --wait-ms (0) until a sync returns no job; reports
//          the jobs it got, its first request's and last response's wall times (ms), and
//          writes the job ids to --ids-file.
//   lone   long-polls (--max 50, --wait-ms 25000) until told `stop`.
//   depth  --warmup cycles, `warm`, waits for `go`, then --samples sequential
//          claim+complete cycles with max 1; reports each measured cycle's duration (ms).
import { writeFileSync } from 'node:fs';
import { errorText, nextCommand, ownCpuSec, parseArgs, runChild, send } from './lib/child-io.js';
import { wallMs } from './lib/clock.js';
import { createClient } from './lib/http.js';

/** @typedef {{ id: string, leaseId: string }} ClaimedJob */
/** @typedef {{ jobs: ClaimedJob[], acks: Array<{ jobId: string, ok: boolean }>, cancel: string[], drain: boolean }} SyncResponse */

const args = parseArgs();
const mode = args.mode ?? 'drain';
if (!args.url || !args.join || !args.name) throw new Error('--url, --join and --name are required');
const http = createClient(args.url, { connections: 1 });

/** @param {ClaimedJob} j */
const completionJson = (j) =>
  `{"jobId":${JSON.stringify(j.id)},"leaseId":${JSON.stringify(j.leaseId)},"outcome":"succeeded"}`;
/**
 * @param {ClaimedJob[]} completions
 * @param {number} max
 * @param {number} waitMs
 */
const syncBody = (completions, max, waitMs) =>
  `{"completions":[${completions.map(completionJson).join(',')}],"max":${max},"waitMs":${waitMs}}`;

runChild(async () => {
  const reg = await http.json(
    'POST',
    '/api/v1/agent/register',
    {
      name: args.name,
      capabilities: ['task:noop'],
      resources: { cpu: 64, memoryMb: 65_536, gpus: [] },
      maxJobs: Number(args['max-jobs'] ?? 1_000),
    },
    [201],
    args.join,
  );
  /** @type {string} */
  const secret = reg.secret;
  /**
   * @param {ClaimedJob[]} completions
   * @param {number} max
   * @param {number} waitMs
   * @returns {Promise<SyncResponse>}
   */
  const sync = async (completions, max, waitMs) =>
    http.json('POST', '/api/v1/agent/sync', syncBody(completions, max, waitMs), [200], secret);

  send({ type: 'ready', agentId: reg.agent.id });
  if ((await nextCommand()) !== 'go') return;
  let cpu0 = ownCpuSec();

  if (mode === 'drain') {
    const max = Number(args.max ?? 500);
    const waitMs = Number(args['wait-ms'] ?? 0);
    /** @type {string[]} */
    const ids = [];
    let stale = 0;
    let acked = 0;
    let requests = 0;
    /** @type {ClaimedJob[]} */
    let completions = [];
    const startMs = wallMs();
    for (;;) {
      const res = await sync(completions, max, waitMs);
      requests++;
      for (const a of res.acks) {
        if (a.ok) acked++;
        else stale++;
      }
      if (res.jobs.length === 0) break;
      for (const j of res.jobs) ids.push(j.id);
      completions = res.jobs;
    }
    const endMs = wallMs();
    if (args['ids-file']) writeFileSync(args['ids-file'], ids.join('\n'));
    send({
      type: 'result',
      cpuSec: ownCpuSec() - cpu0,
      jobs: ids.length,
      acked,
      stale,
      requests,
      startMs,
      endMs,
    });
    return;
  }

  if (mode === 'lone') {
    const max = Number(args.max ?? 50);
    const waitMs = Number(args['wait-ms'] ?? 25_000);
    let jobs = 0;
    let stale = 0;
    let stopped = false;
    const loop = async () => {
      /** @type {ClaimedJob[]} */
      let completions = [];
      while (!stopped) {
        const res = await sync(completions, max, waitMs);
        for (const a of res.acks) if (!a.ok) stale++;
        jobs += res.jobs.length;
        completions = res.jobs;
      }
    };
    loop().catch((/** @type {unknown} */ err) => {
      if (stopped) return;
      send({ type: 'error', message: errorText(err) });
      process.exit(1);
    });
    await nextCommand(); // stop (or the runner went away)
    stopped = true;
    send({ type: 'result', cpuSec: ownCpuSec() - cpu0, jobs, stale });
    return;
  }

  if (mode === 'depth') {
    const warmup = Number(args.warmup ?? 100);
    const samples = Number(args.samples ?? 500);
    /** @type {number[]} */
    const cyclesMs = [];
    /** @type {ClaimedJob[]} */
    let prev = [];
    for (let i = 0; i < warmup + samples; i++) {
      if (i === warmup) {
        // Lets the runner read the server's CPU time around the measured cycles only.
        send({ type: 'warm' });
        if ((await nextCommand()) !== 'go') return;
        cpu0 = ownCpuSec();
      }
      const t0 = performance.now();
      const res = await sync(prev, 1, 0);
      const ms = performance.now() - t0;
      if (res.jobs.length !== 1)
        throw new Error(`cycle ${i}: expected 1 job, got ${res.jobs.length}`);
      if (!res.acks.every((a) => a.ok))
        throw new Error(`cycle ${i}: completion refused: ${JSON.stringify(res.acks)}`);
      if (i >= warmup) cyclesMs.push(ms);
      prev = res.jobs;
    }
    await sync(prev, 0, 0);
    send({ type: 'result', cpuSec: ownCpuSec() - cpu0, cyclesMs });
    return;
  }

  throw new Error(`unknown --mode ${mode}`);
});
