import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(root, 'packages/cli/bin/offload.js');

/**
 * @typedef {object} RealAgent
 * @property {number} pid
 * @property {Promise<void>} registered resolves once the agent logs its registration
 * @property {() => string} stderr the tail of its stderr
 * @property {() => number | null} hostPid its shared supervisor host (started with its first
 *   command job, the parent of every command): null before
 * @property {(graceMs?: number) => Promise<number>} stop SIGTERM, SIGKILL after `graceMs`; removes the state dir
 */

/**
 * The real agent, `node packages/cli/bin/offload.js agent ...` (the built CLI), in its own
 * process with a fresh state directory.
 * @param {{ url: string, join: string, name: string, maxJobs: number, tasks?: string, label?: string }} o
 * @returns {RealAgent}
 */
export function startRealAgent({ url, join, name, maxJobs, tasks, label = name }) {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'offload-bench-agent-'));
  // BENCH_AGENT_CPU_PROF=DIR: a V8 CPU profile of each real agent (node bench/profile-top.js FILE).
  const prof = process.env.BENCH_AGENT_CPU_PROF;
  const args = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), CLI, 'agent'];
  args.push('--server', url, '--join', join, '--name', name);
  args.push('--max-jobs', String(maxJobs), '--state-dir', stateDir, '--drain-timeout', '5s');
  if (tasks) args.push('--tasks', tasks);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${label}: could not start`);
  const pid = proc.pid;
  track(proc);
  let stderr = '';
  /** @type {Promise<number>} */
  const exited = new Promise((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 0))),
  );
  /** @type {Promise<void>} */
  const registered = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label}: not registered within 30 s\n${stderr.slice(-2000)}`)),
      30_000,
    );
    proc.stderr.on('data', (/** @type {Buffer} */ d) => {
      stderr += d.toString();
      if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${label}] ${d.toString()}`);
      if (/ registered with /.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (code ${code})\n${stderr.slice(-2000)}`));
    });
  });
  registered.catch(() => undefined);
  return {
    pid,
    registered,
    stderr: () => stderr,
    hostPid() {
      try {
        const info = JSON.parse(readFileSync(path.join(stateDir, 'supervisor-host.json'), 'utf8'));
        return typeof info.pid === 'number' ? info.pid : null;
      } catch {
        return null;
      }
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      rmSync(stateDir, { recursive: true, force: true });
      return exited;
    },
  };
}
