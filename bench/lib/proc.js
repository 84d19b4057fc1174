import { readdirSync, readFileSync } from 'node:fs';

// USER_HZ is 100 on every Linux this runs on (`getconf CLK_TCK`).
const CLK_TCK = 100;

/**
 * utime and stime of a whole process (all threads) in seconds, from /proc/PID/stat.
 * @param {number} pid
 * @returns {{ user: number, sys: number } | null} null if the process is gone
 */
export function cpuTimes(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after "(comm) ".
    return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
  } catch {
    return null;
  }
}

/**
 * utime + stime of a process plus cutime + cstime (its children it has waited for), in seconds.
 * @param {number | 'self'} pid
 * @returns {number | null} null if the process is gone
 */
export function cpuSecondsWithChildren(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * utime + stime of a whole process in seconds.
 * @param {number} pid
 * @returns {number | null} null if the process is gone
 */
export function cpuSeconds(pid) {
  const t = cpuTimes(pid);
  return t === null ? null : t.user + t.sys;
}

/**
 * VmHWM (peak resident set) in MiB from /proc/PID/status.
 * @param {number} pid
 * @returns {number | null} null if the process is gone
 */
export function peakRssMiB(pid) {
  return statusMiB(pid, 'VmHWM');
}

/**
 * VmRSS (current resident set) in MiB from /proc/PID/status.
 * @param {number} pid
 * @returns {number | null} null if the process is gone
 */
export function rssMiB(pid) {
  return statusMiB(pid, 'VmRSS');
}

/**
 * @param {number} pid
 * @param {string} field
 */
function statusMiB(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Busy and total jiffies of the whole machine, from the first line of /proc/stat.
 * @returns {{ busy: number, total: number }}
 */
export function machineJiffies() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * CPU seconds of a database server's process tree: the root, its live children (PostgreSQL
 * backends) and the children it has reaped (cutime + cstime: backends that exited). Other
 * users of the same database server count too: on a shared machine, read it beside the
 * "other load" column.
 * @param {number} rootPid
 * @returns {number} NaN if the root is gone
 */
export function treeCpuSeconds(rootPid) {
  const root = statFields(rootPid);
  if (!root) return NaN;
  let ticks = root.utime + root.stime + root.cutime + root.cstime;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = statFields(Number(d));
    if (st && st.ppid === rootPid) ticks += st.utime + st.stime;
  }
  return ticks / CLK_TCK;
}

/**
 * @param {number} pid
 * @returns {{ ppid: number, utime: number, stime: number, cutime: number, cstime: number } | null}
 */
function statFields(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      utime: Number(f[11]),
      stime: Number(f[12]),
      cutime: Number(f[13]),
      cstime: Number(f[14]),
    };
  } catch {
    return null;
  }
}
