import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { postgresUnavailable, withPostgres } from './postgres.js';
import { redisServerInfo, redisUnavailable } from './redis.js';

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {string} cwd
 */
function sh(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** What the numbers were measured on. */
export function machineInfo() {
  let cpuModel = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // not Linux
  }
  return {
    cpuModel,
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * The commit, and whether tracked files under packages/ differed from it (dist/ is built
 * from the working tree).
 * @param {string} root
 */
export function gitInfo(root) {
  const commit = sh('git', ['rev-parse', 'HEAD'], root);
  const status = sh(
    'git',
    ['status', '--porcelain', '--untracked-files=no', '--', 'packages'],
    root,
  );
  return {
    commit,
    packagesDirty: Boolean(status),
    dirtyFiles: status ? status.split('\n').length : 0,
  };
}

/**
 * The versions the figures belong to: the anchors' npm packages as installed, and the Redis
 * and PostgreSQL servers that answered (null when absent).
 * @param {string} root
 */
export async function versionsInfo(root) {
  /** @param {string} pkg */
  const npm = (pkg) => {
    try {
      const file = path.join(root, 'node_modules', pkg, 'package.json');
      return /** @type {string} */ (JSON.parse(readFileSync(file, 'utf8')).version);
    } catch {
      return null;
    }
  };
  const redis = (await redisUnavailable()) ? null : (await redisServerInfo()).version;
  const postgres = (await postgresUnavailable())
    ? null
    : await withPostgres(async (c) => {
        const v = /** @type {string} */ (
          (await c.query('SHOW server_version')).rows[0].server_version
        );
        const mc = /** @type {string} */ (
          (await c.query('SHOW max_connections')).rows[0].max_connections
        );
        const sc = /** @type {string} */ (
          (await c.query('SHOW synchronous_commit')).rows[0].synchronous_commit
        );
        return `${v} (synchronous_commit=${sc}, max_connections=${mc})`;
      }).catch(() => null);
  return {
    bullmq: npm('bullmq'),
    ioredis: npm('ioredis'),
    pgBoss: npm('pg-boss'),
    graphileWorker: npm('graphile-worker'),
    pg: npm('pg'),
    redis,
    postgres,
  };
}
