// Supervision of one job directory: spawn the command in its own session, copy its output
// into output.log, enforce the timeout, kill the whole tree on request, reap it, and leave the
// exit status and usage in exit.json. Run by the per-job supervisor script
// (job-supervisor.js, one process per job) and by the shared supervisor host
// (supervisor-host.js, one process for many jobs).
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

/**
 * @typedef {object} Supervisor  who supervises, as recorded in supervisor.json
 * @property {number} pid
 * @property {number | null} startTime
 * @property {string} [hostSocket]  set by the shared host: where to send kill requests
 * @property {boolean} ownNice      the process may renice itself for this job (one job per process)
 * @property {ChildTicks} childTicks
 */

/**
 * CPU ticks of this process's reaped children (cutime + cstime), read at each reap. The delta
 * between two reads is the CPU of the children reaped in between: in the per-job supervisor
 * exactly its command (and what that command waited for); in the shared host, the job whose
 * exit event comes first gets the ticks of every child reaped in the same moment — the rare
 * case where the sampled tree total (the other lower bound) decides instead.
 */
export class ChildTicks {
  constructor() {
    const s = readProcStat('self');
    this.last = s ? s.cutime + s.cstime : 0;
  }

  /** @returns {number | null} ticks reaped since the last call; null without /proc */
  take() {
    const s = readProcStat('self');
    if (!s) return null;
    const now = s.cutime + s.cstime;
    const delta = Math.max(0, now - this.last);
    this.last = now;
    return delta;
  }
}

/**
 * @typedef {object} JobHandle
 * @property {Promise<void>} done  resolves once exit.json is written
 * @property {(reason?: KillReason) => void} requestKill  kill the tree (reason from kill-request.json, else `cancel`)
 * @property {(err: Error) => void} crash  the supervisor failed: kill the tree now and record why
 */

/**
 * Supervises the job in `jobDir` (spec.json and env.json written by the agent).
 * @param {string} jobDir
 * @param {Supervisor} supervisor
 * @returns {JobHandle}
 */
export function superviseJob(jobDir, supervisor) {
  /** @type {KillReason | null} */
  let killReason = null;
  /** @type {(() => void) | null} */
  let onKillRequest = null;
  /** @type {JobTree | null} */
  let tree = null;
  let logFd = -1;
  let finished = false;
  /** @type {() => void} */
  let resolveDone = () => {};
  /** @type {Promise<void>} */
  const done = new Promise((resolve) => (resolveDone = resolve));
  /** @type {bigint | null} */
  let spawnedHr = null;
  /** @type {bigint | null} */
  let endedHr = null;
  /** @type {NodeJS.Timeout | undefined} */
  let sampleTimer;
  /** @type {NodeJS.Timeout | undefined} */
  let killTimer;
  /** @type {NodeJS.Timeout | undefined} */
  let timeoutTimer;
  /** @type {NodeJS.Timeout | undefined} */
  let pipeTimer;

  /** @type {import('./job-files.js').SupervisorInfo} */
  const info = {
    supervisorPid: supervisor.pid,
    supervisorStartTime: supervisor.startTime,
    bootId: bootId(),
    ...(supervisor.hostSocket !== undefined && { hostSocket: supervisor.hostSocket }),
    pid: null,
    pgid: null,
    startTime: null,
    startedAt: null,
  };

  /** @param {'stdout' | 'stderr'} stream @param {Buffer} chunk */
  function appendLog(stream, chunk) {
    // Synchronous on purpose: one writer, records land in read order, and a full disk stalls
    // the command through its pipe rather than reordering or dropping output.
    if (logFd < 0) return;
    try {
      writeSync(logFd, encodeLogRecords(stream, chunk));
    } catch (err) {
      process.stderr.write(`${jobDir}: output.log write failed: ${String(err)}\n`);
    }
  }
  /** @param {string} text */
  const note = (text) => appendLog('stderr', Buffer.from(`offload: ${text}\n`));

  /** @param {Partial<ExitInfo>} fields */
  function finish(fields) {
    if (finished) return;
    finished = true;
    clearTimeout(sampleTimer);
    clearTimeout(killTimer);
    clearTimeout(timeoutTimer);
    clearTimeout(pipeTimer);
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
    try {
      // Not fsynced: the job directory has to survive the agent's crash (the page cache does),
      // not the machine's, which ends the job too. Saves ~0.4 ms per write on the dev VM.
      writeJsonAtomic(jobFile(jobDir, 'exit'), exit, 0o600, false);
    } finally {
      if (logFd >= 0) closeSync(logFd);
      logFd = -1;
      resolveDone();
    }
  }

  /** @param {string} message */
  const spawnFailed = (message) => finish({ spawnError: message });

  /** @type {JobHandle} */
  const handle = {
    done,
    requestKill(reason) {
      if (killReason || finished) return;
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
    },
    crash(err) {
      if (tree) signalTree(tree, 'SIGKILL');
      finish({ supervisorError: err.message });
    },
  };

  writeJsonAtomic(jobFile(jobDir, 'supervisor'), info, 0o600, false);
  const spec = /** @type {JobSpec} */ (readJsonFile(jobFile(jobDir, 'spec')));
  const env = /** @type {Record<string, string>} */ (readJsonFile(jobFile(jobDir, 'env')) ?? {});
  try {
    unlinkSync(jobFile(jobDir, 'env'));
  } catch {
    // already gone
  }
  logFd = openSync(jobFile(jobDir, 'output'), 'a', 0o600);

  // Niceness is set on the supervisor itself before the spawn, so the command and everything it
  // forks inherit it with no race (setPriority on the child after spawn misses early forks).
  // Only a per-job supervisor can do that; the agent sends jobs with `nice` to one.
  if (spec.nice != null && spec.nice !== 0) {
    try {
      if (!supervisor.ownNice) throw new Error('a shared supervisor cannot renice itself per job');
      setPriority(spec.nice);
    } catch (err) {
      info.niceError = `could not set nice ${spec.nice}: ${/** @type {Error} */ (err).message}`;
      note(`${info.niceError}; running at the agent's priority`);
    }
  }

  const argv = spec.argv;
  const command = argv[0] ?? '';
  if (!command) {
    spawnFailed('the command is empty');
    return handle;
  }
  const cwdProblem = spec.cwd === undefined ? undefined : checkCwd(spec.cwd);
  if (cwdProblem) {
    spawnFailed(`cannot start "${command}": working directory ${spec.cwd} ${cwdProblem}`);
    return handle;
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
    return handle;
  }

  let spawned = false;
  child.once('error', (err) => {
    if (!spawned) spawnFailed(describeSpawnError(err));
    else process.stderr.write(`${jobDir}: child error: ${String(err)}\n`);
  });

  let maxRssBytes = 0;
  let maxTreeTicks = 0;
  let sampleDelayMs = 50;

  // Sampling walks the command's descendants (a handful of small reads); every 10th sample
  // scans the whole process table for members that were orphaned to init, and keeps following
  // them. A full scan every second would cost ~2,000 reads per job on a busy host.
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
      // A member's own times plus those of its reaped children: a lower bound of the tree's
      // CPU that also covers descendants orphaned to init, which our cutime never sees.
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
    writeJsonAtomic(jobFile(jobDir, 'supervisor'), info, 0o600, false);
    sample();
    scheduleSample();
    if (spec.timeoutMs != null && spec.timeoutMs > 0) {
      timeoutTimer = setTimeout(
        () => handle.requestKill('timeout'),
        Math.min(spec.timeoutMs, MAX_TIMER_MS),
      );
      timeoutTimer.unref();
    }
    if (onKillRequest) onKillRequest();
  });

  child.stdout.on('data', (/** @type {Buffer} */ b) => appendLog('stdout', b));
  child.stderr.on('data', (/** @type {Buffer} */ b) => appendLog('stderr', b));

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

  let exitCode = /** @type {number | null} */ (null);
  let exitSignal = /** @type {string | null} */ (null);
  /** @type {number | null} */
  let reapedTicks = null;
  let streamsOpen = 2;
  let exited = false;

  function maybeFinish() {
    if (!exited || streamsOpen > 0) return;
    const ticks = Math.max(reapedTicks ?? 0, maxTreeTicks);
    finish({
      exitCode,
      signal: exitSignal,
      cpuSec: reapedTicks === null ? null : ticks / CLOCK_TICKS_PER_SEC,
      maxRssMb: reapedTicks === null ? null : Math.round((maxRssBytes / 1048576) * 10) / 10,
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
    reapedTicks = supervisor.childTicks.take();
    exitCode = code;
    exitSignal = signal;
    sample();
    // The attempt ends with its command. Whatever it left behind in its group or session
    // (background jobs, daemons) is killed, so a finished job holds no resources; their pipes
    // then close. A leftover that escaped with setsid() and kept a pipe open cannot hold us:
    // the pipes are dropped after the grace.
    const t = tree;
    if (t !== null && treeAlive(t)) {
      killTree(killReason ? spec.killGraceMs : Math.min(spec.killGraceMs, 2000));
    }
    pipeTimer = setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
    }, spec.killGraceMs + 2000);
    pipeTimer.unref();
    exited = true;
    maybeFinish();
  });

  return handle;
}

/**
 * Why `cwd` cannot be the working directory, or undefined. Node reports a missing cwd as ENOENT
 * of the *command*; checking first names the real culprit.
 * @param {string} cwd
 * @returns {string | undefined}
 */
function checkCwd(cwd) {
  try {
    if (!statSync(cwd).isDirectory()) return 'is not a directory';
    accessSync(cwd, constants.X_OK);
    return undefined;
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    return code === 'ENOENT'
      ? 'does not exist'
      : code === 'EACCES'
        ? 'is not accessible (permission denied)'
        : `cannot be used (${code ?? String(err)})`;
  }
}
