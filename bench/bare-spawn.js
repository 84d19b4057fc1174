// The shell cases' baseline: `child_process.spawn('true')` from a fresh Node process, as a
// user's own script would run it. Measured here rather than in the bench runner, whose fork
// cost grows with what earlier cases left in its memory: in a full run (after the 1M-job
// claim case) its bare spawn took 2.87 ms p50 against ~1.3 ms from a fresh process.
//
//   node bench/bare-spawn.js --n N --warmup W --concurrency C
//
// Reports {type: 'result', lat: [ms per spawn], elapsedMs} for the N timed spawns.
import { spawn } from 'node:child_process';
import { parseArgs, runChild, send } from './lib/child-io.js';
import { timedLoops } from './lib/timed-loops.js';

const args = parseArgs();
const n = Number(args.n);
const warmup = Number(args.warmup ?? 0);
const concurrency = Number(args.concurrency ?? 1);
if (!(n > 0) || !(concurrency > 0)) throw new Error('--n and --concurrency must be positive');

/** A bare `spawn('true')`, resolved at its exit. */
function bareTrue() {
  return new Promise((resolve, reject) => {
    const p = spawn('true', [], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(undefined) : reject(new Error(`true exited ${code}`)),
    );
  });
}

runChild(async () => {
  await timedLoops(Math.max(warmup, concurrency), concurrency, bareTrue);
  const t0 = performance.now();
  const lat = await timedLoops(n, concurrency, bareTrue);
  send({ type: 'result', lat, elapsedMs: performance.now() - t0 });
});
