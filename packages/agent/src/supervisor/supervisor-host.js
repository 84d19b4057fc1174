// The shared supervisor host: `node supervisor-host.js <stateDir>`.
//
// One detached process per agent state directory that supervises every command job (the
// supervision of supervise-job.js: own session per job, output.log, timeout, tree kill,
// exit.json). Like the per-job supervisor it is no child of the agent in any way that matters —
// own session, stdio to a file, no pipe once it is ready — so killing the agent, even with -9,
// leaves every job running and observed; a restarted agent reconnects to it.
//
// Why one process for all jobs: a per-job Node supervisor costs ~40 ms of CPU and wall time to
// start, 25× a bare spawn of `true` (2.3 ms) on the 2-core dev VM. The host spawns in ~2 ms.
// The price is a shared fate: if the host dies, every job it watched is killed by the agent
// and ends AGENT_LOST (retried by the server), where a per-job supervisor loses one.
//
// Protocol (HOST_PROTOCOL 3), on the unix socket <stateDir>/supervisor.sock, newline-delimited
// JSON. Requests:
//   {"op":"start","jobDir":"…","spec":{…},"env":{…}}  run a job: the spec and environment come
//        with the request (env.json is never written)
//   {"op":"kill","jobDir":"…"}     kill its tree (reason and grace from kill-request.json)
//   {"op":"release","jobDir":"…"}  the agent has recorded the job's outcome: what of its records
//        is not written yet never will be (a host of an earlier version ignores this, as any
//        op it does not know, and writes them)
// Events, to the connection that sent the start:
//   {"ev":"spawned","jobDir":"…","info":{…}}  the command runs
//   {"ev":"output","jobDir":"…"}             output.log grew (at most every 50 ms)
//   {"ev":"exit","jobDir":"…","exit":{…},"outputBytes":N}  the end
// The files stay the durable record, written behind the events (supervise-job.js,
// RECORD_DELAY_MS): the job directory with spec.json at the first output, and with
// supervisor.json a second after the spawn; exit.json before the `exit` event once
// supervisor.json is there, else (with supervisor.json) a second after the end unless
// released. When the connection that started a job closes, its pending records are written
// at once: the agent stopped or died, and its successor reads the files.
// An agent restarted meanwhile (attach) reads the same files as with a per-job supervisor.
//
// Why events rather than files watched by the agent: with the agent watching the directory
// (an inotify watch per job, supervisor.json and exit.json read on each of ~10 events, spec.json
// and env.json written, read and deleted) a `true` job took 13.2 ms p50 through a real agent
// against a 1.32 ms bare spawn (10×; `npm run bench -- --only shell-overhead`, 2026-11-24).
//
// It exits once no job runs and no agent has been connected for IDLE_MS. SIGTERM kills every
// job's tree (reason `cancel`) and exits when they have ended.
import { closeSync, rmSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join, resolve, sep } from 'node:path';
import { writeJsonAtomic } from './job-files.js';
import { bootId, readProcStat } from './proc.js';
import { ChildTicks, superviseJob } from './supervise-job.js';

const IDLE_MS = 3_000;
/** A start request carries the job's environment: room for a large one. */
const MAX_LINE = 4 * 1024 * 1024;
/** Written to supervisor-host.json; an agent does not use a host that speaks another one. */
const HOST_PROTOCOL = 3;

const stateDir = resolve(process.argv[2] ?? '');
// Tests start a host with another delay, to tell a record written at once from one that waited.
const delayArg = /^--record-delay-ms=(\d+)$/.exec(process.argv[3] ?? '');
if (!process.argv[2] || (process.argv[3] !== undefined && !delayArg)) {
  process.stderr.write('usage: supervisor-host.js <stateDir> [--record-delay-ms=N]\n');
  process.exit(2);
}
const jobsRoot = join(stateDir, 'jobs') + sep;
const socketPath = join(stateDir, 'supervisor.sock');
const infoFile = join(stateDir, 'supervisor-host.json');
process.title = 'offload-supervisor-host';

const self = readProcStat('self');
/** @type {import('./supervise-job.js').Supervisor} */
const supervisor = {
  pid: process.pid,
  startTime: self?.startTime ?? null,
  hostSocket: socketPath,
  ownNice: false,
  childTicks: new ChildTicks(),
  ...(delayArg && { recordDelayMs: Number(delayArg[1]) }),
};

/** @typedef {import('./supervise-job.js').JobHandle} JobHandle */
/** @type {Set<JobHandle>} every job until its leftovers are swept: the host stays for them */
const live = new Set();
/**
 * The latest job of each directory, where kill requests go. A job that ended may be started
 * again in its directory while its leftovers are still swept (up to a second): an attempt
 * handed back at an agent's stop and claimed again by the restarted agent. Its start was
 * ignored until the sweep was done, and the attempt failed after the agent's start timeout.
 * @type {Map<string, JobHandle>}
 */
const byDir = new Map();
/** @type {Map<JobHandle, net.Socket>} the connection that started each live job */
const startedOn = new Map();
/** @type {Set<net.Socket>} */
const clients = new Set();
let stopping = false;
/** @type {NodeJS.Timeout | undefined} */
let idleTimer;

function maybeExit() {
  clearTimeout(idleTimer);
  idleTimer = undefined;
  if (live.size > 0) return;
  if (stopping) return exit(0);
  if (clients.size > 0) return;
  idleTimer = setTimeout(() => exit(0), IDLE_MS);
}

/** @param {number} code */
function exit(code) {
  server.close();
  for (const c of clients) c.destroy();
  rmSync(socketPath, { force: true });
  rmSync(infoFile, { force: true });
  process.exit(code);
}

/** @param {string} dir */
function jobDirOf(dir) {
  // Only job directories of this state directory: the socket is 0600, but a confused client
  // must not make the host read spec.json files elsewhere.
  const abs = resolve(dir);
  return abs.startsWith(jobsRoot) && !abs.slice(jobsRoot.length).includes(sep) ? abs : undefined;
}

/**
 * @param {net.Socket} socket
 * @param {Record<string, unknown>} event
 * @returns {boolean} it went to a connected agent
 */
function send(socket, event) {
  if (!socket.writable) return false;
  socket.write(`${JSON.stringify(event)}\n`);
  return true;
}

/**
 * @param {unknown} message
 * @param {net.Socket} socket
 */
function handle(message, socket) {
  const msg = /** @type {{ op?: unknown, jobDir?: unknown, spec?: unknown, env?: unknown }} */ (
    message !== null && typeof message === 'object' ? message : {}
  );
  const dir = typeof msg.jobDir === 'string' ? jobDirOf(msg.jobDir) : undefined;
  if (!dir) {
    process.stderr.write(`ignored a request for ${String(msg.jobDir)}: not a job directory\n`);
    return;
  }
  if (msg.op === 'start') {
    const previous = byDir.get(dir);
    if (previous?.ended === false || stopping) return;
    // The agent cleared the directory for this run: the last one's records must not land in it.
    previous?.release();
    clearTimeout(idleTimer);
    const jobDir = dir;
    let ended = false;
    /** @type {import('./supervise-job.js').JobInput} */
    const input = {
      events: {
        spawned: (info) => send(socket, { ev: 'spawned', jobDir, info }),
        output: () => send(socket, { ev: 'output', jobDir }),
        exit: (exit, outputBytes) => {
          ended = true;
          return send(socket, { ev: 'exit', jobDir, exit, outputBytes });
        },
      },
    };
    // Checked only for shape: the socket is 0600, the agent is our own user.
    if (isObject(msg.spec) && Array.isArray(msg.spec.argv))
      input.spec = /** @type {import('./job-files.js').JobSpec} */ (msg.spec);
    if (isObject(msg.env)) input.env = /** @type {Record<string, string>} */ (msg.env);
    let job;
    try {
      job = superviseJob(dir, supervisor, input);
    } catch (err) {
      // spec.json unreadable, the disk full…: say so, rather than leave the agent waiting for
      // a spawn until its start timeout.
      process.stderr.write(`${dir}: ${String(err)}\n`);
      if (!ended) {
        /** @type {import('./job-files.js').ExitInfo} */
        const exit = {
          exitCode: null,
          signal: null,
          killReason: null,
          spawnError: `the supervisor host could not start the job: ${String(err)}`,
          wallSec: 0,
          cpuSec: null,
          maxRssMb: null,
          startedAt: null,
          finishedAt: new Date().toISOString(),
        };
        input.events?.exit(exit, 0);
      }
      return;
    }
    live.add(job);
    byDir.set(dir, job);
    startedOn.set(job, socket);
    void job.done.then(() => {
      live.delete(job);
      startedOn.delete(job);
      if (byDir.get(dir) === job) byDir.delete(dir);
      maybeExit();
    });
  } else if (msg.op === 'kill') {
    byDir.get(dir)?.requestKill();
  } else if (msg.op === 'release') {
    byDir.get(dir)?.release();
  }
}

/** @param {unknown} v @returns {v is Record<string, any>} */
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

const server = net.createServer((socket) => {
  clients.add(socket);
  clearTimeout(idleTimer);
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (/** @type {string} */ data) => {
    buf += data;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        /** @type {unknown} */
        const msg = JSON.parse(line);
        handle(msg, socket);
      } catch (err) {
        process.stderr.write(`bad request ${JSON.stringify(line.slice(0, 200))}: ${String(err)}\n`);
      }
    }
    if (buf.length > MAX_LINE) socket.destroy();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    clients.delete(socket);
    for (const [job, s] of startedOn) if (s === socket) job.flushRecords();
    maybeExit();
  });
});

// Nothing but our protocol stops us: no terminal; SIGTERM means "kill every job, then exit".
process.on('SIGTERM', () => {
  stopping = true;
  for (const job of live) job.requestKill('cancel');
  maybeExit();
});
for (const sig of /** @type {const} */ (['SIGHUP', 'SIGINT', 'SIGPIPE', 'SIGUSR1', 'SIGUSR2'])) {
  process.on(sig, () => {});
}
// A bug here must not leave unobserved jobs: kill every tree and say why in each exit.json.
process.on('uncaughtException', (err) => {
  process.stderr.write(`${err.stack ?? String(err)}\n`);
  stopping = true;
  for (const job of live) job.crash(err);
  void Promise.all([...live].map((j) => j.done)).then(() => exit(1));
});

// The agent checked that no live host owns the socket before it started us.
rmSync(socketPath, { force: true });
const oldMask = process.umask(0o077); // the socket file: 0600
server.listen(socketPath, () => {
  process.umask(oldMask);
  writeJsonAtomic(infoFile, {
    pid: process.pid,
    startTime: supervisor.startTime,
    bootId: bootId(),
    socket: socketPath,
    protocol: HOST_PROTOCOL,
  });
  // Tell the agent we are ready on fd 3, then drop that last tie to it.
  try {
    writeSync(3, 'ready\n');
    closeSync(3);
  } catch {
    // started by hand, without fd 3
  }
  maybeExit();
});
server.on('error', (err) => {
  process.stderr.write(`cannot listen on ${socketPath}: ${err.message}\n`);
  process.exit(1);
});
