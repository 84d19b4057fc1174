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
  fstatSync,
  openSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { setPriority } from 'node:os';
import {
  encodeLogRecords,
  jobFile,
  makeJobDir,
  readJsonFile,
  writeJsonAtomic,
} from './job-files.js';
import {
  CLOCK_TICKS_PER_SEC,
  bootId,
  descendants,
  groupExists,
  listProcesses,
  pageSize,
  readProcStat,
  signalTree,
  treeMembers,
} from './proc.js';

/** @typedef {import('./job-files.js').JobSpec} JobSpec */
/** @typedef {import('./job-files.js').ExitInfo} ExitInfo */
/** @typedef {import('./job-files.js').KillReason} KillReason */
/** @typedef {import('./job-files.js').KillRequest} KillRequest */
/** @typedef {import('./job-files.js').SupervisorInfo} SupervisorInfo */
/** @typedef {import('./proc.js').JobTree} JobTree */
/** @typedef {import('./proc.js').ProcStat} ProcStat */

const MAX_TIMER_MS = 2_147_483_647;
/**
 * At most one `output` event per job this often: the agent reads output.log at most every
 * batchMs (100 ms) anyway, so an event per write would only cost socket writes.
 */
const OUTPUT_NOTIFY_MS = 50;
/**
 * In the shared host, a job's records (its directory with spec.json and supervisor.json, and
 * exit.json) wait this long after the spawn, and after the end, for the agent to say it has
 * recorded the outcome itself (`release`): a job that ends within it leaves no file at all,
 * or only spec.json and output.log if it printed. Creating a file costs 150–300 µs of kernel
 * CPU on one dev VM's ext4 and ~750 µs on another's (a new inode; an append is ~10 µs): the
 * four of a `true` job were 0.6–3 ms of host CPU, and made in the spawn's turn they held back
 * its sight of the exit. Nothing needs them sooner: the connected agent follows the job
 * by its events, and when that connection closes (the agent stopped or died) the host writes
 * every pending record at once, long before a restarted agent (Node alone starts in ~40 ms)
 * reads them. Once supervisor.json is written, exit.json is written before the exit event.
 */
const RECORD_DELAY_MS = 1000;

/**
 * Jobs that ended share one /proc scan for their leftovers, at most one per SWEEP_DELAY_MS. A
 * scan per job was the host's largest cost after the spawn itself: with ~200 processes on the
 * dev VM, 28 % of the host's sampled time on the shell benchmark (`true` jobs back to back,
 * 3.5–4.2 ms of host CPU per job), and it delayed the next job's spawn on a loaded machine. At
 * 100 ms it still made 17 of the host's 20 opens per job (strace -c, 100 jobs); at 1 s a
 * leftover lives at most that long after its job, and the scan costs ~1 ms a second.
 */
const SWEEP_DELAY_MS = 1000;
/** @type {Array<(processes: ProcStat[]) => void>} */
let sweepQueue = [];
/** @type {NodeJS.Timeout | undefined} */
let sweepTimer;

/** @param {(processes: ProcStat[]) => void} fn  called with one scan shared by every queued job */
function queueSweep(fn) {
  sweepQueue.push(fn);
  sweepTimer ??= setTimeout(() => {
    sweepTimer = undefined;
    const batch = sweepQueue;
    sweepQueue = [];
    const processes = listProcesses();
    for (const f of batch) f(processes);
  }, SWEEP_DELAY_MS);
}

/**
 * @typedef {object} Supervisor  who supervises, as recorded in supervisor.json
 * @property {number} pid
 * @property {number | null} startTime
 * @property {string} [hostSocket]  set by the shared host: where to send kill requests
 * @property {boolean} ownNice      the process may renice itself for this job (one job per process)
 * @property {ChildTicks} childTicks
 * @property {number} [recordDelayMs]  the shared host's RECORD_DELAY_MS (tests set another)
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
 * @typedef {object} JobEvents  what the shared host forwards to the agent on its socket
 * @property {(info: SupervisorInfo) => void} spawned  the command runs (its records follow later)
 * @property {() => void} output  output.log grew (at most once per OUTPUT_NOTIFY_MS)
 * @property {(exit: ExitInfo, outputBytes: number) => boolean} exit  the end; `outputBytes` is
 *   output.log's final size (the agent need not read it again to find its end). Returns whether
 *   an agent got it: only then may the records wait for its `release`.
 */

/**
 * @typedef {object} JobInput  what the shared host got in the agent's start request
 * @property {JobSpec} [spec]  given: the job directory and its spec.json are made here; else read from spec.json
 * @property {Record<string, string>} [env]  else read from env.json (deleted once read)
 * @property {JobEvents} [events]
 */

/**
 * @typedef {object} JobHandle
 * @property {Promise<void>} done  resolves once the end is recorded (or released) and no leftover
 *   of the tree lives
 * @property {boolean} ended  the command has ended (its records or leftovers may still be pending)
 * @property {(reason?: KillReason) => void} requestKill  kill the tree (reason from kill-request.json, else `cancel`)
 * @property {(err: Error) => void} crash  the supervisor failed: kill the tree now and record why
 * @property {() => void} release  the agent has recorded the outcome: records not yet written
 *   are never written (a job that ended without a directory leaves none)
 * @property {() => void} flushRecords  write the pending records now (the agent's connection
 *   closed)
 */

/**
 * Supervises the job in `jobDir`: spec.json and env.json written by the agent (a per-job
 * supervisor), or the spec and environment the shared host received on its socket (`input`);
 * then the directory is made here, after the spawn (RECORD_DELAY_MS).
 * @param {string} jobDir
 * @param {Supervisor} supervisor
 * @param {JobInput} [input]
 * @returns {JobHandle}
 */
export function superviseJob(jobDir, supervisor, input = {}) {
  const events = input.events;
  /** @type {KillReason | null} */
  let killReason = null;
  /** @type {(() => void) | null} */
  let onKillRequest = null;
  /** @type {JobTree | null} */
  let tree = null;
  /** output.log, opened at the first output: a job that prints nothing creates no file. */
  let logFd = -1;
  let logClosed = false;
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
  /** @type {NodeJS.Timeout | undefined} */
  let outputTimer;
  let outputDirty = false;
  /** Size of output.log: what it held at open plus every byte written since. */
  let logBytes = 0;
  /** @type {ExitInfo | null} the end, until its records are written or released */
  let endRecord = null;
  /** @type {NodeJS.Timeout | undefined} */
  let endTimer;
  /** The leftovers' sweep is done. */
  let swept = false;
  const recordDelayMs = supervisor.recordDelayMs ?? RECORD_DELAY_MS;

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
    if (logClosed) return;
    try {
      if (logFd < 0) {
        ensureJobDir();
        logFd = openSync(jobFile(jobDir, 'output'), 'a', 0o600);
        logBytes = fstatSync(logFd).size;
      }
      logBytes += writeSync(logFd, encodeLogRecords(stream, chunk));
    } catch (err) {
      process.stderr.write(`${jobDir}: output.log write failed: ${String(err)}\n`);
    }
    notifyOutput();
  }

  function notifyOutput() {
    if (!events) return;
    if (outputTimer) {
      outputDirty = true;
      return;
    }
    events.output();
    outputTimer = setTimeout(() => {
      outputTimer = undefined;
      if (outputDirty) {
        outputDirty = false;
        notifyOutput();
      }
    }, OUTPUT_NOTIFY_MS);
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
    clearTimeout(outputTimer);
    clearTimeout(recordTimer);
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
    if (logFd >= 0) closeSync(logFd);
    logFd = -1;
    logClosed = true;
    endRecord = exit;
    if (recorded || !events) {
      // supervisor.json is there: exit.json goes first, so that once the agent has the end a
      // directory never reads as a job that still runs (the agent clears it for a new attempt
      // in it, or a restarted agent follows it). One file creation on a job that ran past
      // RECORD_DELAY_MS.
      writeEnd();
      events?.exit(exit, logBytes);
    } else if (events.exit(exit, logBytes)) {
      // The event before the files, which wait for the agent's release (RECORD_DELAY_MS).
      endTimer = setTimeout(writeEnd, recordDelayMs);
    } else writeEnd(); // no agent to tell: the files are how a restarted one learns it
    sweepLeftovers(() => {
      swept = true;
      settleDone();
    });
  }

  /** Writes the end's records, unless released or written already. */
  function writeEnd() {
    clearTimeout(endTimer);
    const exit = endRecord;
    if (exit === null) return;
    endRecord = null;
    try {
      writeRecords(); // if the end came first (or the spawn failed)
      // Not fsynced: the job directory has to survive the agent's crash (the page cache does),
      // not the machine's, which ends the job too. Saves ~0.4 ms per write on the dev VM.
      writeJsonAtomic(jobFile(jobDir, 'exit'), exit, 0o600, false);
    } catch (err) {
      // The connected agent has the outcome from the event; an agent that reads the directory
      // finds the supervisor gone without one and ends the attempt AGENT_LOST.
      process.stderr.write(`${jobDir}: could not write the job's records: ${String(err)}\n`);
    }
    settleDone();
  }

  function settleDone() {
    if (swept && endRecord === null) resolveDone();
  }

  /**
   * After the end, whatever of the session still lives: members that moved to another process
   * group (a job-control shell's background jobs), which the kill(-pgid, 0) at exit does not
   * see, or that ignored SIGTERM without holding the pipes. Found by a /proc scan shared with
   * the other jobs that ended meanwhile (queueSweep), after exit.json is written and the agent
   * told, so it adds nothing to the job's latency: SIGTERM, then SIGKILL after the grace until
   * none is left.
   * @param {() => void} then
   */
  function sweepLeftovers(then) {
    const t = tree;
    if (t === null) return then();
    queueSweep((processes) => {
      if (treeMembers(t, processes).length === 0) then();
      else killLeftovers(t, then);
    });
  }

  /** @param {JobTree} t @param {() => void} then */
  function killLeftovers(t, then) {
    const graceMs = killReason ? killGraceMs : Math.min(spec.killGraceMs, 2000);
    signalTree(t, 'SIGTERM');
    signalTree(t, 'SIGCONT');
    const deadline = Date.now() + graceMs;
    const step = () => {
      const left = Date.now() >= deadline ? signalTree(t, 'SIGKILL') : treeMembers(t).length;
      if (left === 0) then();
      else setTimeout(step, 100);
    };
    setTimeout(step, 100);
  }

  /** @param {string} message */
  const spawnFailed = (message) => finish({ spawnError: message });

  /** @type {JobHandle} */
  const handle = {
    done,
    get ended() {
      return finished;
    },
    release() {
      if (!finished) return;
      clearTimeout(endTimer);
      endRecord = null;
      settleDone();
    },
    flushRecords() {
      if (finished) writeEnd();
      else if (!recorded && info.pid !== null) {
        clearTimeout(recordTimer);
        recordJob();
      }
    },
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
      killGraceMs = req?.graceMs ?? spec.killGraceMs;
      onKillRequest = () => killTree(killGraceMs);
      if (tree) onKillRequest();
    },
    crash(err) {
      if (tree) signalTree(tree, 'SIGKILL');
      finish({ supervisorError: err.message });
      writeEnd(); // no waiting for a release: the host is about to exit
    },
  };

  // A per-job supervisor says who it is at once: the command starts only after its own start-up,
  // and meanwhile the agent must be able to find (and signal) it. The shared host spawns in the
  // same turn as it reads the request and writes supervisor.json once, with the command's pid.
  if (supervisor.hostSocket === undefined)
    writeJsonAtomic(jobFile(jobDir, 'supervisor'), info, 0o600, false);
  const spec = input.spec ?? /** @type {JobSpec} */ (readJsonFile(jobFile(jobDir, 'spec')));
  let killGraceMs = spec.killGraceMs;
  const env = input.env ?? takeEnvFile(jobDir);

  // The shared host gets the spec with the start request and makes the job directory itself,
  // after the spawn (see RECORD_DELAY_MS): two file creations (mkdir, spec.json) taken off the
  // job's way to its spawn. Made by the agent, they were 300–480 µs of a `true` job's ~3.9 ms
  // through a real agent (1.3 ms bare) on the dev VM, where creating a file costs 150–300 µs
  // of kernel CPU (a new inode on its ext4).
  let jobDirMade = input.spec === undefined;
  function ensureJobDir() {
    if (jobDirMade) return;
    makeJobDir(jobDir, spec);
    jobDirMade = true;
  }
  let recorded = false;
  /** @type {NodeJS.Timeout | undefined} */
  let recordTimer;

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

  /** Makes the job directory (shared host) and writes supervisor.json once the command runs. */
  function writeRecords() {
    ensureJobDir();
    if (recorded || info.pid === null) return;
    writeJsonAtomic(jobFile(jobDir, 'supervisor'), info, 0o600, false);
    recorded = true;
  }

  /** @returns {boolean} false: the records could not be written, and the job was killed */
  function recordJob() {
    try {
      writeRecords();
      return true;
    } catch (err) {
      // Without these records no restarted agent could find the command: it must not run on.
      if (tree) signalTree(tree, 'SIGKILL');
      finish({ supervisorError: `could not record the job in its directory: ${String(err)}` });
      return false;
    }
  }

  /** @param {number} pid */
  function onSpawned(pid) {
    spawned = true;
    spawnedHr = process.hrtime.bigint();
    const st = readProcStat(pid);
    info.pid = pid;
    info.pgid = pid;
    info.startTime = st?.startTime ?? null;
    info.startedAt = new Date().toISOString();
    tree = { pgid: pid, sid: pid, minStartTime: info.startTime };
    // A per-job supervisor's agent follows the directory: its record goes at once. The host's
    // jobs are followed by their events; their records follow (RECORD_DELAY_MS).
    if (jobDirMade) {
      if (!recordJob()) return;
    } else recordTimer = setTimeout(recordJob, recordDelayMs);
    events?.spawned(info);
    // The first sample is the command's own stat, read above for its start time: a freshly
    // exec'd command has no children yet, and the full /proc scan a sample starts with cost
    // ~0.6 ms (100 processes on the dev VM), a third of a bare spawn of `true`.
    if (st) {
      maxRssBytes = st.rssPages * pageSize();
      maxTreeTicks = st.utime + st.stime + st.cutime + st.cstime;
    }
    scheduleSample();
    if (spec.timeoutMs != null && spec.timeoutMs > 0) {
      timeoutTimer = setTimeout(
        () => handle.requestKill('timeout'),
        Math.min(spec.timeoutMs, MAX_TIMER_MS),
      );
      timeoutTimer.unref();
    }
    if (onKillRequest) onKillRequest();
  }

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
    // The attempt ends with its command. Whatever it left behind in its group (background
    // jobs, daemons) is killed, so a finished job holds no resources; their pipes then close.
    // One kill(-pgid, 0) tells whether anyone is left: the sample and the tree check done here
    // before were two full /proc scans, ~1.3 ms of the host's ~2 ms per `true` (100 processes
    // on the dev VM; 2× that on a busy one). Members that moved to another group of the
    // session are found by the sweep after the end. A leftover that escaped with setsid() and
    // kept a pipe open cannot hold us: the pipes are dropped after the grace.
    const t = tree;
    if (t !== null && groupExists(t.pgid)) {
      killTree(killReason ? killGraceMs : Math.min(spec.killGraceMs, 2000));
    }
    pipeTimer = setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
    }, spec.killGraceMs + 2000);
    pipeTimer.unref();
    exited = true;
    maybeFinish();
  });

  // uv_spawn returns once the command has exec'd or failed to: a pid now means it runs.
  // Recorded in this turn rather than on the 'spawn' event a tick later, so the host's answer
  // to the agent goes out with no detour through the event loop.
  if (child.pid !== undefined) onSpawned(child.pid);
  return handle;
}

/**
 * The command's environment from env.json, which is deleted once read (it may hold secrets).
 * @param {string} jobDir
 * @returns {Record<string, string>}
 */
function takeEnvFile(jobDir) {
  const env = /** @type {Record<string, string>} */ (readJsonFile(jobFile(jobDir, 'env')) ?? {});
  try {
    unlinkSync(jobFile(jobDir, 'env'));
  } catch {
    // already gone
  }
  return env;
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
