import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

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
