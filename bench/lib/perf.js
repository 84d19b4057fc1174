import { execFileSync, spawn } from 'node:child_process';

/**
 * @typedef {{ file: string, samples: number, mainThreadPct: number, dso: string[], symbols: string[] } | { file: string, error: string }} PerfSummary
 */

/**
 * On-CPU sampling of one process with Linux `perf` (software cpu-clock event, so it works
 * in a VM without a PMU), kernel included. Unlike V8's --cpu-prof, whose samples also
 * count time the thread spent descheduled (on a busy 2-core machine a write that wakes the
 * client often gets the server preempted), this is CPU time only. The server runs with
 * --perf-basic-prof so that JIT-compiled JS functions have names.
 * @param {number} pid
 * @param {string} file
 */
export async function startPerf(pid, file) {
  const proc = spawn(
    'perf',
    ['record', '-e', 'cpu-clock', '-F', '1999', '-g', '-p', String(pid), '-o', file],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  proc.stderr.on('data', (/** @type {Buffer} */ d) => (stderr += d.toString()));
  /** @type {Promise<void>} */
  const exited = new Promise((resolve) => proc.on('exit', () => resolve()));
  proc.on('error', (err) => (stderr += String(err)));
  // perf needs a moment to attach; samples before the window are few (the server idles).
  await new Promise((r) => setTimeout(r, 400));
  return {
    /** Stops sampling and writes the file; resolves with perf's stderr. */
    async stop() {
      proc.kill('SIGINT');
      await exited;
      return stderr;
    },
  };
}

/**
 * From a perf.data file of process `pid`: the split between its main (JS) thread and the
 * rest (V8 compiler and GC threads, libuv pool), then self time by shared object and by
 * symbol on the main thread.
 * @param {string} file
 * @param {number} pid
 * @param {number} [top]
 * @returns {PerfSummary}
 */
export function perfReport(file, pid, top = 30) {
  /** @param {string[]} args */
  const perf = (args) =>
    execFileSync('perf', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 256 * 1024 * 1024,
    });
  /** @param {string} sort */
  const run = (sort) =>
    perf([
      'report',
      '-i',
      file,
      '--stdio',
      '--no-children',
      '--sort',
      sort,
      '--percent-limit',
      '0.4',
      '-g',
      'none',
      '--tid',
      String(pid),
    ])
      .split('\n')
      .filter((l) => /^\s+\d+\.\d+%/.test(l))
      .slice(0, top)
      .map((l) => l.replace(/\s+/g, ' ').trim().slice(0, 200));
  try {
    /** @type {Map<string, number>} */
    const tids = new Map();
    for (const line of perf(['script', '-i', file, '-F', 'tid']).split('\n')) {
      const t = line.trim();
      if (t) tids.set(t, (tids.get(t) ?? 0) + 1);
    }
    const total = [...tids.values()].reduce((a, b) => a + b, 0);
    const main = tids.get(String(pid)) ?? 0;
    return {
      file,
      samples: total,
      mainThreadPct: total ? (100 * main) / total : 0,
      dso: run('dso'),
      symbols: run('dso,sym'),
    };
  } catch (err) {
    return { file, error: err instanceof Error ? err.message : String(err) };
  }
}

/** @param {PerfSummary} r */
export function renderPerf(r) {
  if ('error' in r) return `perf ${r.file}: ${r.error}`;
  return [
    `perf ${r.file}: ${r.samples} on-CPU samples of the server (kernel included), ${r.mainThreadPct.toFixed(0)} % on its main thread; main thread only below`,
    ' by shared object:',
    ...r.dso.map((l) => `  ${l}`),
    ' by symbol:',
    ...r.symbols.map((l) => `  ${l}`),
  ].join('\n');
}
