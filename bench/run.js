#!/usr/bin/env node
// offload's benchmark runner: `npm run bench -- [--quick|--full|--smoke] [--only NAME]`.
// What it measures and how: docs/benchmarks.md (which a quick or full run of every
// scenario rewrites, table included).
//
//   --quick        the default: 1 repetition, smaller sizes, a few minutes
//   --full         the issue's sizes (50k jobs, claim depth 1M), 3 repetitions: median (min–max)
//   --smoke        tiny sizes, checks the harness works (tests/bench); numbers mean nothing
//   --only NAME    only the cases whose id (`group@size/system`) contains NAME (comma-
//                  separated; e.g. process-1, lone, claim-depth, bullmq, offload-postgres,
//                  prototype, servers-)
//   --reps N       override the number of repetitions
//   --no-build     do not run `tsc -b tsconfig.build.json` first
//   --perf         sample the server's on-CPU time with Linux `perf` in each measured window
//   --cpu-prof     run each server under `node --cpu-prof` (bench/out/profiles/)
//   --alloc-prof   sample the server's allocations in each measured window (bench/out/alloc/)
//   --segments     time a lone job's legs on the server's clock (bench/lib/segments.js)
//   --docs, --no-docs   force / skip rewriting docs/benchmarks.md (default: only for a
//                  quick or full run of every case without profiling)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll } from './lib/children.js';
import { errorText } from './lib/child-io.js';
import { renderDocs } from './lib/docs.js';
import { gitInfo, machineInfo, versionsInfo } from './lib/machine.js';
import { renderAllocations } from './lib/alloc-profile.js';
import { renderPerf } from './lib/perf.js';
import { machineJiffies } from './lib/proc.js';
import { renderProfile } from './lib/profile.js';
import { readSegments, renderSegments, SEGMENTS_PRELOAD } from './lib/segments.js';
import { buildRows, failuresText, renderTable } from './lib/report.js';
import { buildCases, MODES } from './lib/scenarios.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const argv = process.argv.slice(2);

/** @param {string} name */
const flag = (name) => argv.includes(`--${name}`);
/** @param {string} name */
const option = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

const FLAGS = [
  'quick',
  'full',
  'smoke',
  'no-build',
  'perf',
  'cpu-prof',
  'alloc-prof',
  'segments',
  'docs',
  'no-docs',
  'help',
];
const OPTIONS = ['only', 'reps'];
for (let i = 0; i < argv.length; i++) {
  const a = /** @type {string} */ (argv[i]);
  if (OPTIONS.includes(a.slice(2)) && a.startsWith('--')) i++;
  else if (!a.startsWith('--') || !FLAGS.includes(a.slice(2))) {
    console.error(`unknown argument ${a}; see the header of bench/run.js`);
    process.exit(2);
  }
}
if (flag('help')) {
  const header = readFileSync(fileURLToPath(import.meta.url), 'utf8')
    .split('\n')
    .slice(1, 19);
  console.log(header.map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

/** @type {import('./lib/scenarios.js').Mode} */
const mode = flag('smoke') ? 'smoke' : flag('full') ? 'full' : 'quick';
const only = option('only')?.split(',').filter(Boolean) ?? [];
const reps = Number(option('reps') ?? MODES[mode].reps);
const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;

process.on('exit', () => killAll());
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Builds the packages the bench runs (dist/). On failure, warns and goes on with the dist/
 * there is, if any: other work in the tree may be mid-edit.
 * @returns {string | null} a warning, or null
 */
function build() {
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    return null;
  } catch (err) {
    const e = /** @type {{ stdout?: string, stderr?: string }} */ (err);
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(0, 15).join('\n');
    const warning =
      'tsc -b tsconfig.build.json failed; benchmarking the existing (possibly stale) dist/';
    console.error(`warning: ${warning}:\n${out}`);
    return warning;
  }
}

const buildWarning = flag('no-build') ? null : build();
for (const p of ['store', 'server']) {
  if (!existsSync(path.join(root, `packages/${p}/dist/index.js`))) {
    console.error(
      `packages/${p}/dist is missing: run \`npm run build\` (tsc -b tsconfig.build.json), or drop --no-build`,
    );
    process.exit(1);
  }
}

const startedAt = new Date();
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const outDir = path.join(benchDir, 'out');
const cpuProfDir = flag('cpu-prof') ? path.join(outDir, 'profiles', stamp) : undefined;
const perfDir = flag('perf') ? path.join(outDir, 'perf', stamp) : undefined;
const allocProfDir = flag('alloc-prof') ? path.join(outDir, 'alloc', stamp) : undefined;
const segmentsDir = flag('segments') ? path.join(outDir, 'segments', stamp) : undefined;
for (const d of [cpuProfDir, perfDir, allocProfDir, segmentsDir])
  if (d) mkdirSync(d, { recursive: true });
// Every process started from here on loads the preload; only the servers act on it.
if (segmentsDir)
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${JSON.stringify(SEGMENTS_PRELOAD)}`;

const allCases = buildCases(mode);
const cases = allCases.filter((c) => only.length === 0 || only.some((o) => c.id.includes(o)));
if (cases.length === 0) {
  console.error(
    `no case matches --only ${only.join(',')}; cases: ${allCases.map((c) => c.id).join(', ')}`,
  );
  process.exit(2);
}
const machine = machineInfo();
const git = gitInfo(root);
const versions = await versionsInfo(root);
console.log(
  `offload bench: ${mode}, ${reps} rep${reps > 1 ? 's' : ''}, ${cases.length} cases; ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`,
);

const QUIET_PCT = 30;
/** Background busy share (% of one core) above which a case is measured again; idle, this VM shows ~10–15. */
const NOISY_PCT = 60;
const quietMaxMs = mode === 'smoke' ? 0 : mode === 'full' ? 60_000 : 10_000;
/** How many times a case is measured again when other work loaded the machine. */
const maxNoisyRuns = mode === 'full' ? 2 : 1;

/**
 * Waits (up to `maxMs`) until the machine has been nearly idle for a second: other work on
 * this shared 2-core machine (tests, builds) skews every figure.
 * @param {number} maxMs
 * @returns {Promise<number>} the busy share (% of one core) of the last quarter second seen
 */
async function waitQuiet(maxMs) {
  const until = performance.now() + maxMs;
  let quietFor = 0;
  for (;;) {
    const a = machineJiffies();
    await new Promise((r) => setTimeout(r, 250));
    const b = machineJiffies();
    const busy = b.total > a.total ? (200 * (b.busy - a.busy)) / (b.total - a.total) : 0;
    quietFor = busy < QUIET_PCT ? quietFor + 250 : 0;
    if (quietFor >= 1_000 || performance.now() > until) return busy;
  }
}

// A system whose database is absent is skipped, with one line saying why.
/** @type {Map<string, string | null>} */
const unavailable = new Map();
for (const sys of new Set(cases.map((c) => c.system))) {
  const why = await sys.unavailable();
  unavailable.set(sys.id, why);
  if (why) console.log(`skipping ${sys.label}: ${why}`);
}

/** @type {Record<string, import('./lib/report.js').RunResult[]>} */
const runs = {};
for (let rep = 0; rep < reps; rep++) {
  // Repetitions outermost, so that a burst of noise on this shared machine is spread over cases.
  for (const c of cases) {
    const skipped = unavailable.get(c.system.id);
    if (skipped) {
      (runs[c.id] ??= []).push({ skipped });
      continue;
    }
    const t0 = performance.now();
    /** @type {import('./lib/modes.js').CaseResult | { error: string, loadBeforePct?: number, noisyRuns?: number }} */
    let result;
    let noisyRuns = 0;
    /** @type {string | undefined} */
    let segments;
    for (;;) {
      const loadBeforePct = quietMaxMs > 0 ? await waitQuiet(quietMaxMs) : NaN;
      // Each case's servers write their legs under a prefix of its own.
      segments = segmentsDir
        ? path.join(segmentsDir, `${c.id.replace(/[^\w@.-]+/g, '_')}-${rep}-${noisyRuns}`)
        : undefined;
      if (segments) process.env.OFFLOAD_BENCH_SEGMENTS = segments;
      try {
        result = await c.run({ cpuProfDir, perfDir, allocProfDir });
      } catch (err) {
        result = { error: errorText(err) };
      }
      result.loadBeforePct = loadBeforePct;
      // Other work took more than ~half a core during the measurement: measure again (twice at most).
      if (
        quietMaxMs === 0 ||
        'error' in result ||
        result.otherCpuPct <= NOISY_PCT ||
        noisyRuns >= maxNoisyRuns
      )
        break;
      noisyRuns++;
      console.log(
        `  [${rep + 1}/${reps}] ${c.id}: other load ${result.otherCpuPct.toFixed(0)} % during the run; measuring again`,
      );
    }
    if (noisyRuns > 0) result.noisyRuns = noisyRuns;
    (runs[c.id] ??= []).push(result);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const summary =
      'error' in result
        ? `FAILED: ${result.error.split('\n').slice(0, 8).join('\n  ')}`
        : Object.entries(result.metrics)
            .map(([k, v]) => `${k}=${v.toFixed(k.endsWith('Ms') ? 3 : v >= 100 ? 0 : 2)}`)
            .join(' ');
    console.log(`  [${rep + 1}/${reps}] ${c.id}: ${summary} (${secs} s)`);
    if ('perf' in result && result.perf)
      console.log(renderPerf(result.perf).replace(/^/gm, '    '));
    if ('profile' in result && result.profile)
      console.log(
        renderProfile(result.profile, { self: 25, inclusive: 30 }).replace(/^/gm, '    '),
      );
    if ('allocs' in result && result.allocs)
      console.log(renderAllocations(result.allocs).replace(/^/gm, '    '));
    if (segments && !('error' in result))
      for (const s of readSegments(segments, result.jobs))
        console.log(renderSegments(s).replace(/^/gm, '    '));
  }
}

const rows = buildRows(cases, runs);
const table = renderTable(rows);
const failures = failuresText(rows);
console.log(`\n${table}\n`);
if (failures.length) console.log(`Failures:\n${failures.join('\n')}\n`);

const record = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  command,
  mode,
  reps,
  machine,
  git,
  versions,
  buildWarning,
  cases: cases.map(({ id, group, size, system }) => ({ id, group, size, system: system.id })),
  runs,
  rows,
};
if (mode !== 'smoke') {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(record, null, 2));
  console.log(`raw results: ${path.relative(root, file)}`);
}
if (cpuProfDir)
  console.log(
    `server CPU profiles: ${path.relative(root, cpuProfDir)} (node bench/profile-top.js FILE)`,
  );
if (perfDir) console.log(`perf data: ${path.relative(root, perfDir)} (perf report -i FILE)`);
if (allocProfDir) console.log(`allocation profiles: ${path.relative(root, allocProfDir)}`);

const writeDocs =
  flag('docs') ||
  (!flag('no-docs') &&
    mode !== 'smoke' &&
    only.length === 0 &&
    !cpuProfDir &&
    !perfDir &&
    !allocProfDir &&
    !segmentsDir);
if (writeDocs) {
  const docsFile = path.join(root, 'docs/benchmarks.md');
  const previous = existsSync(docsFile) ? readFileSync(docsFile, 'utf8') : '';
  const text = renderDocs({ record, table, failures, previous });
  // The repo's `prettier --check .` covers docs/: write it formatted (tables aligned).
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(docsFile)) ?? {};
  writeFileSync(docsFile, await prettier.format(text, { ...config, filepath: docsFile }));
  console.log(`rewrote ${path.relative(root, docsFile)}`);
}
process.exit(failures.length ? 1 : 0);
