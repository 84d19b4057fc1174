import { createInterface } from 'node:readline';

export { parseArgs } from './args.js';

/**
 * The child side of the bench's line protocol: JSON messages out on stdout, one per line;
 * plain-word commands in on stdin (`go`, `stop`). Diagnostics go to stderr.
 * @param {{ type: string, [key: string]: unknown }} msg
 */
export function send(msg) {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

/** @type {Array<(cmd: string) => void>} */
const waiting = [];
/** @type {string[]} */
const pending = [];
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (!cmd) return;
  const w = waiting.shift();
  if (w) w(cmd);
  else pending.push(cmd);
});
// The parent went away: nothing left to report to.
rl.on('close', () => {
  const w = waiting.shift();
  if (w) w('stop');
  else pending.push('stop');
});

/**
 * Resolves with the next command from the parent.
 * @returns {Promise<string>}
 */
export function nextCommand() {
  const cmd = pending.shift();
  if (cmd !== undefined) return Promise.resolve(cmd);
  return new Promise((resolve) => waiting.push(resolve));
}

/**
 * Runs `main`, reporting a failure as an `error` message and a non-zero exit.
 * @param {() => Promise<void>} main
 */
export function runChild(main) {
  main().then(
    () => {
      rl.close();
      process.exit(0);
    },
    (/** @type {unknown} */ err) => {
      send({ type: 'error', message: errorText(err) });
      process.exit(1);
    },
  );
}

/**
 * @param {unknown} err
 * @returns {string}
 */
export function errorText(err) {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** This process's CPU time (user + system) in seconds. */
export function ownCpuSec() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
