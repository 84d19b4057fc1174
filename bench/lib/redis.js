import { createConnection } from 'node:net';

/** The Redis the BullMQ anchor uses: OFFLOAD_BENCH_REDIS (host:port), else 127.0.0.1:6379. */
const [host = '127.0.0.1', port = '6379'] = (
  process.env.OFFLOAD_BENCH_REDIS || '127.0.0.1:6379'
).split(':');
export const REDIS = { host, port: Number(port) };
/**
 * The logical database the BullMQ anchor owns, flushed before each measurement (DB 0 and the
 * others are left alone). 11: clear of the 0–2 that other tools on this machine use.
 */
export const REDIS_DB = 11;

/**
 * Sends one inline command and resolves with the reply's text (enough for PING and INFO).
 * @param {string} command
 * @returns {Promise<string>}
 */
function redisCommand(command) {
  return new Promise((resolve, reject) => {
    const sock = createConnection(REDIS);
    let text = '';
    const timer = setTimeout(() => sock.destroy(new Error('no answer within 2 s')), 2_000);
    sock.on('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d) => {
      text += d.toString();
      // A status reply is one line; a bulk reply is `$LEN\r\n` + LEN bytes + `\r\n`.
      const bulk = /^\$(\d+)\r\n/.exec(text);
      if (
        text.startsWith('+') ||
        text.startsWith('-') ||
        (bulk && text.length >= Number(bulk[1]))
      ) {
        clearTimeout(timer);
        sock.end();
        resolve(text);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** @type {Promise<string | null> | undefined} */
let probe;

/**
 * Why Redis cannot be used (one line), or null when it answers PING. Probed once per run.
 * @returns {Promise<string | null>}
 */
export function redisUnavailable() {
  probe ??= redisCommand('PING').then(
    (reply) => (reply.startsWith('+PONG') ? null : `Redis at ${host}:${port} answered ${reply}`),
    (/** @type {Error} */ err) =>
      `no Redis at ${host}:${port} (${err.message || String(err)}); set OFFLOAD_BENCH_REDIS`,
  );
  return probe;
}

/** redis-server's pid and version (INFO server), or nulls. */
export async function redisServerInfo() {
  try {
    const info = await redisCommand('INFO server');
    return {
      pid: Number(/process_id:(\d+)/.exec(info)?.[1]) || null,
      version: /redis_version:(\S+)/.exec(info)?.[1] ?? null,
    };
  } catch {
    return { pid: null, version: null };
  }
}
