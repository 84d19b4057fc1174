import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** @typedef {{ type: string, [key: string]: any }} Message */
/**
 * @typedef {object} Child
 * @property {import('node:child_process').ChildProcess} proc
 * @property {number} pid
 * @property {Promise<number>} exited resolves with the exit code (128 if killed by a signal)
 * @property {() => string} stderr the tail of the child's stderr
 * @property {(cmd: string) => void} send writes a command line to the child's stdin
 * @property {(type: string, timeoutMs?: number) => Promise<Message>} next the next message of a type
 * @property {(graceMs?: number) => Promise<number>} stop stdin closed and SIGTERM, SIGKILL after `graceMs`
 */

/** @type {Set<import('node:child_process').ChildProcess>} */
const live = new Set();

/**
 * Adds a process started elsewhere to the children `killAll` kills.
 * @param {import('node:child_process').ChildProcess} proc
 */
export function track(proc) {
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
}

/**
 * Kills every child still running (the runner's exit and signal handlers call this).
 * @param {NodeJS.Signals} [signal]
 */
export function killAll(signal = 'SIGKILL') {
  for (const c of live) {
    try {
      c.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * The parent side of the line protocol (see child-io.js): starts `node script args`.
 * @param {string} script
 * @param {string[]} [args]
 * @param {{ nodeArgs?: string[], env?: NodeJS.ProcessEnv, label?: string }} [options]
 * @returns {Child}
 */
export function startChild(
  script,
  args = [],
  { nodeArgs = [], env = process.env, label = script } = {},
) {
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  if (proc.pid === undefined) throw new Error(`${label}: could not start`);
  const pid = proc.pid;
  live.add(proc);
  /** @type {Message[]} */
  const messages = [];
  /** @type {Array<{ type: string, resolve: (m: Message) => void, reject: (e: Error) => void, timer?: NodeJS.Timeout }>} */
  const waiters = [];
  let stderr = '';
  /** @type {Error | null} */
  let failure = null;

  const deliver = () => {
    for (let i = 0; i < waiters.length; i++) {
      const w = /** @type {(typeof waiters)[number]} */ (waiters[i]);
      const idx = messages.findIndex((m) => m.type === w.type);
      if (idx >= 0) {
        waiters.splice(i--, 1);
        clearTimeout(w.timer);
        w.resolve(/** @type {Message} */ (messages.splice(idx, 1)[0]));
      } else if (failure) {
        waiters.splice(i--, 1);
        clearTimeout(w.timer);
        w.reject(failure);
      }
    }
  };

  createInterface({ input: proc.stdout }).on('line', (line) => {
    /** @type {Message} */
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      process.stderr.write(`[${label}] ${line}\n`);
      return;
    }
    if (msg.type === 'error') failure = new Error(`${label} failed: ${msg.message}`);
    messages.push(msg);
    deliver();
  });
  proc.stderr.on('data', (/** @type {Buffer} */ d) => {
    stderr += d.toString();
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${label}] ${d.toString()}`);
  });
  const tail = () => (stderr ? `\n${stderr.trim().slice(-3000)}` : '');
  /** @type {Promise<number>} */
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      failure ??= new Error(`${label} exited (code ${code}, signal ${signal})${tail()}`);
      deliver();
      resolve(code ?? (signal ? 128 : 0));
    });
  });

  return {
    proc,
    pid,
    exited,
    stderr: () => stderr,
    send(cmd) {
      if (proc.stdin.writable) proc.stdin.write(cmd + '\n');
    },
    next(type, timeoutMs = 600_000) {
      return new Promise((resolve, reject) => {
        /** @type {(typeof waiters)[number]} */
        const w = { type, resolve, reject };
        w.timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`${label}: no "${type}" message within ${timeoutMs} ms${tail()}`));
        }, timeoutMs);
        waiters.push(w);
        deliver();
      });
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.stdin.end();
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
