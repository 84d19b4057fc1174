// The per-job supervisor: `node job-supervisor.js <jobDir>`.
//
// Why it exists (SPEC §4, restart recovery): a job must outlive its agent. The agent starts
// this script detached (own session, stdio to files, no pipe back), so killing the agent —
// even with -9 — leaves the job running. The supervisor is the command's parent: it copies the
// command's stdout/stderr into output.log, enforces the timeout, kills the whole tree on
// request (SIGTERM to the supervisor, with kill-request.json saying why), reaps the command,
// and leaves the exit status and usage in exit.json for whichever agent looks next.
//
// It is the model of conmon (Podman's per-container monitor) at a smaller scale. Cost measured
// on the 2-core dev VM: ~40 ms to start, ~6 MB private memory (RSS ~40 MB, mostly shared with
// other Node processes).
//
// Plain JavaScript with no dependency outside this folder, so `process.execPath` runs it from
// src/ (tests) or dist/ (production) alike.
import { spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { setPriority } from 'node:os';
import { encodeLogRecords, jobFile, readJsonFile, writeJsonAtomic } from './job-files.js';
import {
  CLOCK_TICKS_PER_SEC,
  bootId,
  descendants,
  pageSize,
  readProcStat,
  signalTree,
  treeAlive,
  treeMembers,
} from './proc.js';

/** @typedef {import('./job-files.js').JobSpec} JobSpec */
/** @typedef {import('./job-files.js').ExitInfo} ExitInfo */
/** @typedef {import('./job-files.js').KillReason} KillReason */
/** @typedef {import('./job-files.js').KillRequest} KillRequest */
/** @typedef {import('./proc.js').JobTree} JobTree */

const MAX_TIMER_MS = 2_147_483_647;
const jobDir = process.argv[2] ?? '';
if (!jobDir) {
  process.stderr.write('usage: job-supervisor.js <jobDir>\n');
  process.exit(2);
}

// Nothing but our own kill protocol may stop us: no terminal, and SIGTERM means "kill the job".
/** @type {KillReason | null} */
let killReason = null;
/** @type {(() => void) | null} */
let onKillRequest = null;
process.on('SIGTERM', () => {
  requestKill();
});
for (const sig of /** @type {const} */ (['SIGHUP', 'SIGINT', 'SIGPIPE', 'SIGUSR1', 'SIGUSR2'])) {
  process.on(sig, () => {});
}

/** @type {JobTree | null} */
let tree = null;
let logFd = -1;
// A bug here must not leave an unobserved job: kill the tree and say why in exit.json.
process.on('uncaughtException', (err) => {
  process.stderr.write(`${err.stack ?? String(err)}\n`);
  if (tree) signalTree(tree, 'SIGKILL');
  finish({ supervisorError: err.message });
});

const self = readProcStat('self');
/** @type {bigint | null} */
let spawnedHr = null;
/** @type {bigint | null} */
let endedHr = null;
/** @type {import('./job-files.js').SupervisorInfo} */
const info = {
  supervisorPid: process.pid,
  supervisorStartTime: self?.startTime ?? null,
  bootId: bootId(),
  pid: null,
  pgid: null,
  startTime: null,
  startedAt: null,
};
writeJsonAtomic(jobFile(jobDir, 'supervisor'), info);

const spec = /** @type {JobSpec} */ (readJsonFile(jobFile(jobDir, 'spec')));
process.title = `offload-supervisor ${spec.jobId}-${spec.attempt}`;
const env = /** @type {Record<string, string>} */ (readJsonFile(jobFile(jobDir, 'env')) ?? {});
try {
  unlinkSync(jobFile(jobDir, 'env'));
} catch {
  // already gone
}
logFd = openSync(jobFile(jobDir, 'output'), 'a', 0o600);

/** @param {'stdout' | 'stderr'} stream @param {Buffer} chunk */
function appendLog(stream, chunk) {
  // Synchronous on purpose: one writer, records land in read order, and a full disk stalls
  // the command through its pipe rather than reordering or dropping output.
  try {
    writeSync(logFd, encodeLogRecords(stream, chunk));
  } catch (err) {
    process.stderr.write(`output.log write failed: ${String(err)}\n`);
  }
}
/** @param {string} text */
const note = (text) => appendLog('stderr', Buffer.from(`offload: ${text}\n`));

/**
 * @param {Partial<ExitInfo>} fields
 * @returns {never}
 */
function finish(fields) {
  const wallNs = spawnedHr === null ? 0n : (endedHr ?? process.hrtime.bigint()) - spawnedHr;
  /** @type {ExitInfo} */
  const exit = {
    exitCode: null,
    signal: null,
    killReason,
    wallSec: Number(wallNs) / 1e9,
    cpuSec: null,
    maxRssMb: null,
    startedAt: info.startedAt,
    finishedAt: new Date().toISOString(),
    ...fields,
  };
  writeJsonAtomic(jobFile(jobDir, 'exit'), exit);
  if (logFd >= 0) closeSync(logFd);
  process.exit(0);
}

/**
 * @param {string} message
 * @returns {never}
 */
function spawnFailed(message) {
  finish({ spawnError: message });
}

// Niceness is set on ourselves before the spawn, so the command and everything it forks
// inherit it with no race (setPriority on the child after spawn misses early forks).
if (spec.nice != null && spec.nice !== 0) {
  try {
    setPriority(spec.nice);
  } catch (err) {
    info.niceError = `could not set nice ${spec.nice}: ${/** @type {Error} */ (err).message}`;
    note(`${info.niceError}; running at the agent's priority`);
  }
}

const argv = spec.argv;
const command = argv[0] ?? '';
if (!command) spawnFailed('the command is empty');
if (spec.cwd !== undefined) {
  const cwd = spec.cwd;
  // Node reports a missing cwd as ENOENT of the *command*; check first to name the real culprit.
  try {
    if (!statSync(cwd).isDirectory())
      spawnFailed(`cannot start "${command}": working directory ${cwd} is not a directory`);
    accessSync(cwd, constants.X_OK);
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not accessible (permission denied)'
          : `cannot be used (${code ?? String(err)})`;
    spawnFailed(`cannot start "${command}": working directory ${cwd} ${why}`);
  }
}

/** @param {NodeJS.ErrnoException} err */
function describeSpawnError(err) {
  const where = spec.cwd ? ` in ${spec.cwd}` : '';
  switch (err.code) {
    case 'ENOENT':
      return command.includes('/')
        ? `cannot start "${command}"${where}: no such file (or its interpreter is missing) (ENOENT)`
        : `cannot start "${command}": command not found on PATH=${env.PATH ?? ''} (ENOENT)`;
    case 'EACCES':
      return `cannot start "${command}"${where}: permission denied (EACCES: not executable, or a directory)`;
    case 'ENOEXEC':
      return `cannot start "${command}"${where}: not an executable format (ENOEXEC)`;
    default:
      return `cannot start "${command}"${where}: ${err.message}`;
  }
}

const baseline = readProcStat('self');
const baselineTicks = baseline ? baseline.cutime + baseline.cstime : 0;
/** @type {import('node:child_process').ChildProcessByStdio<null, import('node:stream').Readable, import('node:stream').Readable>} */
let child;
try {
  child = spawn(command, argv.slice(1), {
    cwd: spec.cwd,
    env,
    // detached: setsid() — the command leads a new session and process group (pgid = pid),
    // so one kill(-pgid) reaches everything it starts, and no terminal signal reaches it.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
} catch (err) {
  spawnFailed(describeSpawnError(/** @type {NodeJS.ErrnoException} */ (err)));
}

let spawned = false;
child.once('error', (err) => {
  if (!spawned) spawnFailed(describeSpawnError(err));
  process.stderr.write(`child error: ${String(err)}\n`);
});

let maxRssBytes = 0;
let maxTreeTicks = 0;
/** @type {NodeJS.Timeout | undefined} */
let sampleTimer;
let sampleDelayMs = 50;

// Sampling walks the command's descendants (a handful of small reads); every 10th sample scans
// the whole process table for members that were orphaned to init, and keeps following them.
// A full scan every second would cost ~2,000 reads per job on a busy host.
let sampleCount = 0;
/** @type {Set<number>} */
let orphans = new Set();

/** @param {JobTree} t */
function membersForSample(t) {
  const walked = sampleCount++ % 10 === 0 ? undefined : descendants(t.pgid);
  if (!walked) {
    const all = treeMembers(t);
    const reachable = descendants(t.pgid) ?? [];
    const reached = new Set(reachable.map((m) => m.pid));
    orphans = new Set(all.filter((m) => !reached.has(m.pid)).map((m) => m.pid));
    // Descendants that left the group with setsid still count while they are ours.
    return [...reachable, ...all.filter((m) => !reached.has(m.pid))];
  }
  const pids = new Set(walked.map((m) => m.pid));
  for (const pid of orphans) {
    if (pids.has(pid)) continue;
    const s = readProcStat(pid);
    const member =
      s &&
      s.state !== 'Z' &&
      (s.pgrp === t.pgid || s.session === t.sid) &&
      (t.minStartTime == null || s.startTime >= t.minStartTime);
    if (member) walked.push(s);
    else orphans.delete(pid);
  }
  return walked;
}

function sample() {
  if (!tree) return;
  let rss = 0;
  let ticks = 0;
  for (const m of membersForSample(tree)) {
    rss += m.rssPages;
    // A member's own times plus those of its reaped children: a lower bound of the tree's CPU
    // that also covers descendants orphaned to init, which our cutime never sees.
    ticks += m.utime + m.stime + m.cutime + m.cstime;
  }
  maxRssBytes = Math.max(maxRssBytes, rss * pageSize());
  maxTreeTicks = Math.max(maxTreeTicks, ticks);
}

function scheduleSample() {
  // Fast at first so short jobs get a reading, then once a second (a /proc scan is ~1–3 ms).
  sampleTimer = setTimeout(() => {
    sample();
    sampleDelayMs = Math.min(sampleDelayMs * 2, 1000);
    scheduleSample();
  }, sampleDelayMs);
}

child.once('spawn', () => {
  spawned = true;
  spawnedHr = process.hrtime.bigint();
  const pid = /** @type {number} */ (child.pid);
  const st = readProcStat(pid);
  info.pid = pid;
  info.pgid = pid;
  info.startTime = st?.startTime ?? null;
  info.startedAt = new Date().toISOString();
  tree = { pgid: pid, sid: pid, minStartTime: info.startTime };
  writeJsonAtomic(jobFile(jobDir, 'supervisor'), info);
  sample();
  scheduleSample();
  if (spec.timeoutMs != null && spec.timeoutMs > 0) {
    setTimeout(() => requestKill('timeout'), Math.min(spec.timeoutMs, MAX_TIMER_MS)).unref();
  }
  if (onKillRequest) onKillRequest();
});

child.stdout.on('data', (/** @type {Buffer} */ b) => appendLog('stdout', b));
child.stderr.on('data', (/** @type {Buffer} */ b) => appendLog('stderr', b));

/** @type {NodeJS.Timeout | undefined} */
let killTimer;

/**
 * SIGTERM to the tree now, SIGKILL after the grace, repeated until nothing of the tree is left.
 * @param {number} graceMs
 */
function killTree(graceMs) {
  if (!tree || killTimer) return;
  const t = tree;
  signalTree(t, 'SIGTERM');
  signalTree(t, 'SIGCONT'); // a stopped process only acts on SIGTERM once continued
  const hard = () => {
    killTimer = setTimeout(() => {
      if (signalTree(t, 'SIGKILL') > 0) hard();
    }, 100);
  };
  killTimer = setTimeout(() => {
    if (signalTree(t, 'SIGKILL') > 0) hard();
  }, graceMs);
}

/** @param {KillReason} [reason] */
function requestKill(reason) {
  if (killReason) return;
  /** @type {KillRequest | undefined} */
  let req;
  try {
    req = /** @type {KillRequest | undefined} */ (readJsonFile(jobFile(jobDir, 'killRequest')));
  } catch {
    req = undefined;
  }
  killReason = reason ?? req?.reason ?? 'cancel';
  const graceMs = req?.graceMs ?? spec.killGraceMs;
  onKillRequest = () => killTree(graceMs);
  if (tree) onKillRequest();
}

let exitCode = /** @type {number | null} */ (null);
let exitSignal = /** @type {string | null} */ (null);
let streamsOpen = 2;
let exited = false;

function maybeFinish() {
  if (!exited || streamsOpen > 0) return;
  clearTimeout(sampleTimer);
  clearTimeout(killTimer);
  const now = readProcStat('self');
  // After the reap, our cutime+cstime hold the command's CPU and that of every descendant it
  // waited for; the sampled tree total also covers orphans. Take the larger.
  const reapedTicks = now ? now.cutime + now.cstime - baselineTicks : 0;
  const ticks = Math.max(reapedTicks, maxTreeTicks);
  finish({
    exitCode,
    signal: exitSignal,
    cpuSec: now ? ticks / CLOCK_TICKS_PER_SEC : null,
    maxRssMb: now ? Math.round((maxRssBytes / 1048576) * 10) / 10 : null,
  });
}

for (const s of [child.stdout, child.stderr]) {
  s.once('close', () => {
    streamsOpen--;
    maybeFinish();
  });
}

child.once('exit', (code, signal) => {
  endedHr = process.hrtime.bigint();
  exitCode = code;
  exitSignal = signal;
  sample();
  // The attempt ends with its command. Whatever it left behind in its group or session
  // (background jobs, daemons) is killed, so a finished job holds no resources; their pipes
  // then close. A leftover that escaped with setsid() and kept a pipe open cannot hold us:
  // the pipes are dropped after the grace.
  const t = tree;
  const leftovers = () => t !== null && treeAlive(t);
  if (leftovers()) {
    killTree(killReason ? spec.killGraceMs : Math.min(spec.killGraceMs, 2000));
  }
  setTimeout(() => {
    child.stdout.destroy();
    child.stderr.destroy();
  }, spec.killGraceMs + 2000).unref();
  exited = true;
  maybeFinish();
});
