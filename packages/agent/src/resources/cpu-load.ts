import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface CpuTimes {
  /** Jiffies spent not idle, summed over all CPUs. */
  busy: number;
  total: number;
}

/** The aggregate `cpu` line of /proc/stat; undefined where there is none (macOS). */
export function readCpuTimes(): CpuTimes | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n', 1)[0] ?? '';
  if (!line.startsWith('cpu ')) return undefined;
  // user nice system idle iowait irq softirq steal [guest guest_nice — already inside user/nice]
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface CpuLoadGuardOptions {
  /** Take no new work while the machine's CPU load (percent of all CPUs) is above this. */
  thresholdPercent: number;
  /** The load is averaged over about this long. */
  windowMs?: number;
  /** Sampling period. */
  sampleMs?: number;
  /** Injected for tests; default readCpuTimes. */
  readTimes?: () => CpuTimes | undefined;
  now?: () => number;
}

export interface CpuLoadGuard {
  /** Percent 0–100 of the whole machine over the last window; undefined until known. */
  loadPercent(): number | undefined;
  /** False while the load is above the threshold. */
  mayTakeWork(): boolean;
  /** Takes a sample now (the timer does it too). */
  sample(): void;
  close(): void;
}

/**
 * The `cpuThreshold` load guard (SPEC §4), for desktops also used by people. Load is the busy
 * share of all CPUs from /proc/stat deltas over a sliding window, sampled by one unref'd timer.
 * It counts everything, this agent's own jobs included: a machine kept busy by offload also
 * stops taking more (maxJobs bounds that case anyway). Without /proc, the 1-minute load
 * average divided by the CPU count stands in.
 */
export function createCpuLoadGuard(options: CpuLoadGuardOptions): CpuLoadGuard {
  const windowMs = options.windowMs ?? 10_000;
  const sampleMs = options.sampleMs ?? Math.max(250, Math.floor(windowMs / 5));
  const readTimes = options.readTimes ?? readCpuTimes;
  const now = options.now ?? Date.now;
  const samples: Array<{ at: number; t: CpuTimes }> = [];

  const sample = () => {
    const t = readTimes();
    if (!t) return;
    const at = now();
    samples.push({ at, t });
    // Keep the newest sample that is at least a window old as the baseline, drop older ones.
    while (samples.length > 2 && (samples[1]?.at ?? at) <= at - windowMs) samples.shift();
  };
  const loadPercent = (): number | undefined => {
    const first = samples[0];
    const last = samples.at(-1);
    if (first && last && last.t.total > first.t.total) {
      const pct = ((last.t.busy - first.t.busy) / (last.t.total - first.t.total)) * 100;
      return Math.min(100, Math.max(0, pct));
    }
    if (readTimes !== readCpuTimes || readCpuTimes()) return undefined;
    const la = os.loadavg()[0] ?? 0;
    return Math.min(100, (la / os.availableParallelism()) * 100);
  };

  sample();
  const timer = setInterval(sample, sampleMs);
  timer.unref();
  return {
    loadPercent,
    mayTakeWork: () => {
      const load = loadPercent();
      return load === undefined || load <= options.thresholdPercent;
    },
    sample,
    close: () => clearInterval(timer),
  };
}
