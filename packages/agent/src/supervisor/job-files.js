// The contract of a job directory `<stateDir>/jobs/<jobId>-<attempt>/`, shared by the
// supervisors (writers: the shared host or a per-job one) and the agent (reader). Plain JavaScript so the supervisor needs no build.
//
//   spec.json          the job's spec (JobSpec): written by the agent before it starts a per-job
//                      supervisor; by the shared host, which gets it with the start request and
//                      makes the directory itself, shortly after the spawn (supervise-job.js,
//                      RECORD_DELAY_MS), before supervisor.json
//   env.json           the command's environment, for a per-job supervisor only (the shared host
//                      gets it on its socket); the supervisor deletes it once read (0600)
//   supervisor.json    written once the command runs (SupervisorInfo; by the shared host shortly
//                      after, or at the end); a per-job supervisor also writes it at its own start
//   output.log         stdout and stderr, in the order the supervisor read them (record format
//                      below); created at the first output
//   kill-request.json  why the agent signalled the supervisor (KillRequest)
//   exit.json          written atomically by the supervisor when everything ended (ExitInfo)
//   supervisor.log     the supervisor's own stderr (crash traces only)
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export const JOB_FILES = Object.freeze({
  spec: 'spec.json',
  env: 'env.json',
  supervisor: 'supervisor.json',
  output: 'output.log',
  killRequest: 'kill-request.json',
  exit: 'exit.json',
  supervisorLog: 'supervisor.log',
});

/**
 * @typedef {object} JobSpec
 * @property {1} version
 * @property {string} jobId
 * @property {number} attempt
 * @property {string[]} argv          argv[0] is looked up on the command's PATH
 * @property {string} [cwd]
 * @property {number} [nice]
 * @property {number} [timeoutMs]     the supervisor enforces it (reason `timeout`), even with no agent
 * @property {number} killGraceMs     SIGTERM → SIGKILL delay
 * @property {string} createdAt
 */

/**
 * @typedef {object} SupervisorInfo
 * @property {number} supervisorPid
 * @property {number | null} supervisorStartTime  /proc/<pid>/stat field 22; null without /proc
 * @property {string | null} bootId
 * @property {number | null} pid        the command; null until it has been spawned
 * @property {number | null} pgid       = pid (the command leads its own session and group)
 * @property {number | null} startTime  the command's field 22
 * @property {string | null} startedAt  ISO time the command was spawned
 * @property {string} [hostSocket]      the shared supervisor host's socket (absent: a per-job supervisor)
 * @property {string} [niceError]
 */

/** @typedef {'cancel' | 'timeout'} KillReason */

/**
 * @typedef {object} KillRequest
 * @property {KillReason} reason
 * @property {number} [graceMs]
 */

/**
 * @typedef {object} ExitInfo
 * @property {number | null} exitCode
 * @property {string | null} signal
 * @property {KillReason | null} killReason  set when the supervisor killed the tree on request or timeout
 * @property {string} [spawnError]          the command could not be started (names the command or cwd)
 * @property {string} [supervisorError]     the supervisor itself failed while the command ran
 * @property {number} wallSec
 * @property {number | null} cpuSec          user+system of the whole tree; null without /proc
 * @property {number | null} maxRssMb        peak summed RSS of the tree, sampled; null without /proc
 * @property {string | null} startedAt
 * @property {string} finishedAt
 */

/**
 * Writes JSON so a reader sees the old file or the new one, never half of it: temp, fsync, rename.
 * `fsync` false skips the fsync where surviving a process crash is enough (the rename is atomic
 * in the page cache; only a machine crash could lose the file).
 * @param {string} file
 * @param {unknown} value
 * @param {number} [mode]
 * @param {boolean} [fsync]
 */
export function writeJsonAtomic(file, value, mode = 0o600, fsync = true) {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, JSON.stringify(value) + '\n');
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * Makes a job directory (and `jobs/` for the first job) holding its spec.json. spec.json is
 * written in place, not through a temp file and a rename (a file creation less, 150–300 µs on
 * the dev VM's ext4): only a writer that died mid-write leaves a torn one, the agent before it
 * started the supervisor (the attempt never ran) or the shared host (its jobs end AGENT_LOST).
 * @param {string} jobDir
 * @param {JobSpec} spec
 */
export function makeJobDir(jobDir, spec) {
  try {
    mkdirSync(jobDir, { mode: 0o700 });
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    if (code === 'ENOENT') {
      mkdirSync(dirname(jobDir), { recursive: true, mode: 0o700 });
      mkdirSync(jobDir, { mode: 0o700 });
    } else if (code !== 'EEXIST') throw err;
  }
  writeFileSync(join(jobDir, JOB_FILES.spec), `${JSON.stringify(spec)}\n`, { mode: 0o600 });
}

/**
 * @param {string} file
 * @returns {unknown} the parsed JSON, or undefined when the file does not exist
 */
export function readJsonFile(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text);
}

/** @param {string} dir @param {keyof typeof JOB_FILES} name */
export const jobFile = (dir, name) => join(dir, JOB_FILES[name]);

// output.log record format. One record per line: a marker byte, a space, the payload bytes
// (never a newline), then "\n". Markers: `O`/`E` = a stdout/stderr line that ended with a
// newline; `o`/`e` = a fragment with no newline yet (the next record of that stream continues
// it). Decoding a stream = concatenating its payloads, adding "\n" after each upper-case record.
// Bytes are copied unchanged (binary output survives); `cut -c3-` gives a readable log.
const NL = 0x0a;
const SP = 0x20;
/** @type {Readonly<Record<'stdout' | 'stderr', { full: number, part: number }>>} */
const MARKERS = Object.freeze({
  stdout: { full: 0x4f, part: 0x6f },
  stderr: { full: 0x45, part: 0x65 },
}); // O o / E e

/**
 * Encodes a chunk read from one of the command's pipes into output.log records.
 * @param {'stdout' | 'stderr'} stream
 * @param {Buffer} chunk
 * @returns {Buffer}
 */
export function encodeLogRecords(stream, chunk) {
  const { full, part } = MARKERS[stream];
  /** @type {Buffer[]} */
  const parts = [];
  let start = 0;
  while (start < chunk.length) {
    const nl = chunk.indexOf(NL, start);
    const end = nl < 0 ? chunk.length : nl;
    parts.push(
      Buffer.from([nl < 0 ? part : full, SP]),
      chunk.subarray(start, end),
      Buffer.from([NL]),
    );
    start = end + 1;
  }
  return Buffer.concat(parts);
}

/**
 * @typedef {object} LogRecord
 * @property {'stdout' | 'stderr'} stream
 * @property {Buffer} payload
 * @property {boolean} lineEnd   the payload is followed by a newline in the stream
 * @property {number} end        offset in the file just after this record
 */

/**
 * Splits bytes read from output.log into records. Feed consecutive reads; a record cut by the
 * end of a read waits for the rest. `offset` is where the next byte fed sits in the file.
 */
export class LogRecordDecoder {
  /** @param {number} [offset] */
  constructor(offset = 0) {
    /** @type {Buffer} */
    this.pending = Buffer.alloc(0);
    this.offset = offset;
  }

  /**
   * @param {Buffer} bytes
   * @returns {LogRecord[]}
   */
  push(bytes) {
    const buf = this.pending.length ? Buffer.concat([this.pending, bytes]) : bytes;
    const base = this.offset - this.pending.length;
    this.offset += bytes.length;
    /** @type {LogRecord[]} */
    const out = [];
    let start = 0;
    for (let nl = buf.indexOf(NL); nl >= 0; nl = buf.indexOf(NL, start)) {
      const marker = buf[start];
      const framed = nl - start >= 2 && buf[start + 1] === SP;
      const end = base + nl + 1;
      if (framed && (marker === 0x4f || marker === 0x6f || marker === 0x45 || marker === 0x65)) {
        out.push({
          stream: marker === 0x4f || marker === 0x6f ? 'stdout' : 'stderr',
          payload: buf.subarray(start + 2, nl),
          lineEnd: marker === 0x4f || marker === 0x45,
          end,
        });
      } else {
        // Not ours (hand-edited, or an empty line): keep the text rather than lose it.
        out.push({ stream: 'stdout', payload: buf.subarray(start, nl), lineEnd: true, end });
      }
      start = nl + 1;
    }
    this.pending = Buffer.from(buf.subarray(start));
    return out;
  }
}
