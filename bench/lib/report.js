import { CEILINGS, EARLIER_ANCHORS, PROTOTYPE } from './references.js';
import { fmt, fmtSummary, summarize } from './stats.js';

/**
 * @typedef {import('./modes.js').CaseResult | { error: string, loadBeforePct?: number, noisyRuns?: number } | { skipped: string }} RunResult
 * @typedef {import('./stats.js').Summary} Summary
 * @typedef {import('./modes.js').Case} Case
 * @typedef {object} Row
 * @property {string} scenario
 * @property {string} size
 * @property {string} system
 * @property {string} metric
 * @property {Summary} value
 * @property {string | null} failed
 * @property {string | null} skipped
 * @property {string} vsAnchor offload / the same-store anchor (rows both run)
 * @property {string} ceiling the design's floor (the prototype's figure) and offload / it
 * @property {string} target a target row's requirement and verdict
 * @property {string} fallback an earlier run's figure, for an anchor that could not run
 * @property {Summary} [serverCpu] CPU seconds per 1,000 jobs
 * @property {Summary} [agentCpu]
 * @property {Summary} [dbCpu]
 * @property {Summary} [serverRss]
 * @property {Summary} [agentRss]
 * @property {Summary} [other]
 */

/** @type {Record<string, string>} */
const GROUP_TITLES = {
  'submit-batch': 'enqueue, bulk',
  'submit-single': 'enqueue, single',
  'process-1': 'processing, 1 agent / worker',
  'process-2': 'processing, 2 agents',
  'lone-latency': 'lone-job latency',
  'lone-sim': 'lone-job latency, simulated agent',
  'servers-process': 'processing, servers on one PostgreSQL',
  'servers-lone': 'lone-job latency, servers on one PostgreSQL',
  'process-sim-1': 'processing, 1 simulated agent',
  'process-sim-2': 'processing, 2 simulated agents',
  'claim-depth': 'claim+complete at depth',
};

/** The metrics shown per group (the first row carries the resource columns); default jobs/s. */
/** @type {Record<string, string[]>} */
const GROUP_METRICS = {
  'lone-latency': ['p50Ms', 'p95Ms', 'p99Ms', 'maxMs'],
  'lone-sim': ['p50Ms', 'p95Ms', 'p99Ms'],
  'servers-lone': ['p50Ms', 'p95Ms', 'p99Ms', 'timed'],
  'claim-depth': ['p50Ms', 'p99Ms', 'rssQueuedMiB', 'rssQuietMiB'],
  'shell-overhead': ['p50Ms', 'meanMs', 'bareP50Ms', 'bareMeanMs', 'ratioP50', 'ratioMean'],
  'shell-throughput': ['jobsPerSec', 'bareJobsPerSec', 'ratioTime'],
};

/** @type {Record<string, string>} */
const METRIC_LABELS = {
  jobsPerSec: 'jobs/s',
  p50Ms: 'p50 ms',
  p95Ms: 'p95 ms',
  p99Ms: 'p99 ms',
  maxMs: 'max ms',
  meanMs: 'mean ms',
  timed: 'jobs timed',
  rssQueuedMiB: 'server RSS MiB with the queue filled',
  rssQuietMiB: 'server RSS MiB with the queue filled, once quiet',
  bareP50Ms: 'bare spawn p50 ms',
  bareMeanMs: 'bare spawn mean ms',
  ratioP50: 'p50 offload / bare spawn',
  ratioMean: 'mean offload / bare spawn',
  bareJobsPerSec: 'bare spawn jobs/s',
  ratioTime: 'wall time offload / bare spawn',
};

/**
 * The anchor each offload store is held against (issue 7's targets), and the one the
 * design's floor (the prototype, on SQLite) is put beside.
 */
const ANCHOR_OF = /** @type {Record<string, string>} */ ({
  'offload-sqlite': 'bullmq',
  'offload-postgres': 'graphile',
  prototype: 'bullmq',
});
/** @type {Record<string, string>} */
const ANCHOR_LABELS = { bullmq: 'BullMQ', graphile: 'graphile-worker' };
/** Groups every system is measured on. */
const COMMON = ['submit-batch', 'submit-single', 'process-1', 'process-2', 'lone-latency'];

/**
 * @param {RunResult} r
 * @returns {r is import('./modes.js').CaseResult}
 */
const isOk = (r) => !('error' in r) && !('skipped' in r);

/** @param {number} x */
const times = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '—');

/**
 * Table rows: the figures (medians and ranges over the repetitions), then the targets.
 * @param {Case[]} cases
 * @param {Record<string, RunResult[]>} runs
 * @returns {Row[]}
 */
export function buildRows(cases, runs) {
  /** @param {string} id */
  const ok = (id) => (runs[id] ?? []).filter(isOk);
  /** @param {string} id @param {string} m */
  const medianOf = (id, m) => summarize(ok(id).map((r) => r.metrics[m])).median;
  /** @type {Row[]} */
  const rows = [];
  for (const c of cases) {
    const all = runs[c.id] ?? [];
    const rs = ok(c.id);
    const fail = all.flatMap((r) => ('error' in r ? [r.error] : []));
    const skip = all.flatMap((r) => ('skipped' in r ? [r.skipped] : []));
    const metrics = GROUP_METRICS[c.group] ?? ['jobsPerSec'];
    metrics.forEach((m, i) => {
      const value = summarize(rs.map((r) => r.metrics[m]));
      const a = anchorOf(c, cases);
      let vsAnchor = '';
      if (a) {
        const their = a.found ? medianOf(a.found.id, m) : NaN;
        const earlier = EARLIER_ANCHORS[a.id]?.[a.group]?.[m];
        if (Number.isFinite(their)) vsAnchor = `${times(value.median / their)} ${a.label}`;
        else if (earlier)
          vsAnchor = `${times(value.median / earlier)} ${a.label} of an earlier run`;
      }
      const ceiling = floorOf(c, cases, m, medianOf);
      const earlier = skip.length ? EARLIER_ANCHORS[c.system.id]?.[c.group]?.[m] : undefined;
      rows.push({
        scenario: GROUP_TITLES[c.group] ?? c.group,
        size: c.size,
        system: c.system.label,
        metric: METRIC_LABELS[m] ?? m,
        value,
        failed: fail.length ? `${fail.length} of ${all.length} runs failed: ${fail[0]}` : null,
        skipped: skip[0] ?? null,
        vsAnchor,
        ceiling: ceiling
          ? `${fmt(ceiling.value)} (${times(value.median / ceiling.value)})${ceiling.earlier ? ' (limits run)' : ''}`
          : '',
        target: '',
        fallback: earlier ? `${fmt(earlier)} (earlier run, not this one)` : '',
        ...(i === 0 ? resources(rs) : {}),
      });
    });
  }
  rows.push(...targetRows(cases, runs));
  return rows;
}

/**
 * The anchor an offload case is held against (issue 7's targets): its id, group and label,
 * and its case if this run has one.
 * @param {Case} c
 * @param {Case[]} cases
 */
function anchorOf(c, cases) {
  const id = ANCHOR_OF[c.system.id];
  if (!id || !COMMON.includes(c.group)) return null;
  const group = c.group === 'process-2' ? 'process-1' : c.group;
  const found = cases.find((x) => x.system.id === id && x.group === group && sameTag(x, c));
  return { id, group, label: ANCHOR_LABELS[id] ?? id, found: found ?? null };
}

/** The prototype's group that bounds an offload group (it runs one worker). */
/** @type {Record<string, string>} */
const FLOOR_GROUP = {
  'submit-batch': 'submit-batch',
  'submit-single': 'submit-single',
  'process-1': 'process-1',
  'process-2': 'process-1',
  'process-sim-1': 'process-1',
  'process-sim-2': 'process-1',
  'lone-latency': 'lone-latency',
  // The prototype's worker answers each job at once, as the simulated agent does.
  'lone-sim': 'lone-latency',
};

/**
 * The design's floor for an offload-on-SQLite row: the prototype's median in this run
 * (its case of the same size, else of the same group), or the figure of the limits run
 * (../shared/bench/limits/RESULTS.md) when the prototype did not run.
 * @param {Case} c
 * @param {Case[]} cases
 * @param {string} m
 * @param {(id: string, m: string) => number} medianOf
 * @returns {{ value: number, earlier: boolean } | null}
 */
function floorOf(c, cases, m, medianOf) {
  const group = FLOOR_GROUP[c.group];
  if (c.system.id !== 'offload-sqlite' || !group) return null;
  const theirs = cases.filter((x) => x.system.id === 'prototype' && x.group === group);
  const found = theirs.find((x) => sameTag(x, c)) ?? theirs[0];
  const value = found ? medianOf(found.id, m) : NaN;
  if (Number.isFinite(value)) return { value, earlier: false };
  const earlier = CEILINGS[c.group]?.[m];
  return earlier ? { value: earlier, earlier: true } : null;
}

/**
 * Two cases of different systems at the same size (the tag after `@` in their ids).
 * @param {Case} a
 * @param {Case} b
 */
function sameTag(a, b) {
  const tag = (/** @type {Case} */ c) => c.id.slice(c.id.indexOf('@'), c.id.lastIndexOf('/'));
  return tag(a) === tag(b);
}

/**
 * CPU seconds per 1,000 jobs of each role, peak RSS, and the other load.
 * @param {import('./modes.js').CaseResult[]} rs
 */
function resources(rs) {
  /** @param {(r: import('./modes.js').CaseResult) => number | null | undefined} f */
  const per1k = (f) => summarize(rs.map((r) => ((f(r) ?? NaN) / r.jobs) * 1000));
  return {
    serverCpu: per1k((r) => (r.serverCpuSec > 0 ? r.serverCpuSec : NaN)),
    agentCpu: per1k((r) => r.agentCpuSec),
    dbCpu: per1k((r) => r.dbCpuSec),
    serverRss: summarize(rs.map((r) => r.peakRssMiB)),
    agentRss: summarize(rs.map((r) => r.agentPeakRssMiB)),
    other: summarize(rs.map((r) => Math.max(0, r.otherCpuPct))),
  };
}

/**
 * Issue 7's targets, each a ratio per repetition (against the same repetition's other
 * figure), its median and range, and met / missed on the median.
 * @param {Case[]} cases
 * @param {Record<string, RunResult[]>} runs
 * @returns {Row[]}
 */
function targetRows(cases, runs) {
  /** @type {Row[]} */
  const rows = [];
  /**
   * @param {Case} c
   * @param {string} m
   * @returns {number[]} the metric per repetition, NaN where it did not run
   */
  const perRep = (c, m) => (runs[c.id] ?? []).map((r) => (isOk(r) ? (r.metrics[m] ?? NaN) : NaN));
  /**
   * @param {string} what
   * @param {Case} c
   * @param {string} metric
   * @param {number[]} values
   * @param {'≥' | '≤'} op
   * @param {number} bound
   * @param {string} [note]
   * @param {'target' | 'design floor'} [scenario] a floor row says whether the prototype
   *   itself meets the target in this run: where it does not, the target is beyond the design
   */
  const push = (what, c, metric, values, op, bound, note = '', scenario = 'target') => {
    const value = summarize(values);
    const met = op === '≥' ? value.median >= bound : value.median <= bound;
    const [yes, no] =
      scenario === 'target'
        ? ['**met**', '**missed**']
        : ['the floor meets it', '**the floor misses it: beyond the design here**'];
    const verdict = Number.isFinite(value.median) ? (met ? yes : no) : 'not measured';
    rows.push({
      scenario,
      size: what,
      system: c.system.label,
      metric,
      value,
      failed: null,
      skipped: null,
      vsAnchor: '',
      ceiling: '',
      target: `${op} ${metric.includes('MiB') ? `${bound} MiB` : `${bound.toFixed(1)}×`}: ${verdict}${note}`,
      fallback: '',
    });
  };
  /**
   * Per-repetition ratios of `num` to its anchor's same repetition, or to the anchor's
   * figure of an earlier run when the anchor did not run.
   * @param {Case} num
   * @param {NonNullable<ReturnType<typeof anchorOf>>} a
   * @param {string} m
   */
  const ratios = (num, a, m) => {
    const d = a.found ? perRep(a.found, m) : [];
    const earlier = EARLIER_ANCHORS[a.id]?.[a.group]?.[m];
    const ran = d.some(Number.isFinite);
    const values = perRep(num, m).map((x, i) => x / (ran ? (d[i] ?? NaN) : (earlier ?? NaN)));
    return { values, note: ran ? '' : ` (vs ${a.label} of an earlier run)` };
  };
  const find = (/** @type {string} */ system, /** @type {string} */ group) =>
    cases.filter((c) => c.system.id === system && c.group === group);

  /**
   * Processing and lone-job latency of `system` against its anchor, per repetition: issue 7's
   * targets for offload, and the same bounds for the design's floor (whether a bare HTTP +
   * SQLite queue reaches them on this host in this run).
   * @param {string} system
   * @param {'offload' | 'prototype'} who
   * @param {'target' | 'design floor'} scenario
   */
  const anchorTargets = (system, who, scenario) => {
    for (const group of ['process-1', 'process-2']) {
      for (const c of find(system, group)) {
        const a = anchorOf(c, cases);
        if (!a) continue;
        const r = ratios(c, a, 'jobsPerSec');
        const label = `jobs/s ${who} / ${a.label}${who === 'offload' ? ' (aim 1.5×)' : ''}`;
        const size = `${GROUP_TITLES[group]}, ${c.size.split(';')[0]}`;
        push(size, c, label, r.values, '≥', 1.0, r.note, scenario);
      }
    }
    if (system === 'offload-postgres') return; // the lone-job target is SQLite's
    for (const c of find(system, 'lone-latency')) {
      const a = anchorOf(c, cases);
      if (!a) continue;
      for (const m of ['p50Ms', 'p99Ms']) {
        const r = ratios(c, a, m);
        const label = `${m.slice(0, 3)} ${who} / ${a.label}`;
        push(`lone-job latency, ${c.size}`, c, label, r.values, '≤', 1.0, r.note, scenario);
      }
    }
  };
  anchorTargets('offload-sqlite', 'offload', 'target');
  anchorTargets('offload-postgres', 'offload', 'target');
  anchorTargets('prototype', 'prototype', 'design floor');
  for (const store of ['offload-sqlite', 'offload-postgres']) {
    const depths = find(store, 'claim-depth');
    const shallow = depths[0];
    const deep = depths.at(-1);
    if (shallow && deep && deep !== shallow) {
      const d = perRep(deep, 'p50Ms');
      const s = perRep(shallow, 'p50Ms');
      const depth = deep.id.slice(deep.id.indexOf('@') + 1, deep.id.lastIndexOf('/'));
      const note = depth === '1M' ? '' : ` (at ${depth} queued; 1M in --full)`;
      push(
        `claim latency, ${depth} vs ${shallow.id.slice(shallow.id.indexOf('@') + 1, shallow.id.lastIndexOf('/'))} queued`,
        deep,
        `claim+complete p50 deep / shallow (prototype ${PROTOTYPE.claimDepthRatio}×)`,
        d.map((x, i) => x / (s[i] ?? NaN)),
        '≤',
        1.5,
        note,
      );
      // 300 MB = 286 MiB. Judged once the server is quiet (quietRssMiB, --full): the reading
      // when the window opens moves with the fill's garbage (SQLite 246–346 MiB on one commit).
      const quiet = perRep(deep, 'rssQuietMiB');
      const hasQuiet = quiet.some((x) => Number.isFinite(x));
      push(
        `server RSS with ${depth} queued`,
        deep,
        hasQuiet
          ? 'server RSS MiB once quiet (300 MB = 286 MiB)'
          : 'server RSS MiB with the queue filled (300 MB = 286 MiB)',
        hasQuiet ? quiet : perRep(deep, 'rssQueuedMiB'),
        '≤',
        286,
        note,
      );
    }
    for (const c of find(store, 'shell-overhead')) {
      push(`shell job, ${c.size}`, c, 'p50 offload / bare spawn', perRep(c, 'ratioP50'), '≤', 1.5);
    }
  }
  return rows;
}

/** @param {Summary | undefined} s */
const fmtCpu = (s) => (s ? fmtSummary(s, (x) => x.toFixed(3)) : '');

/**
 * The results as one Markdown table.
 * @param {Row[]} rows
 */
export function renderTable(rows) {
  const head = [
    'scenario',
    'size',
    'system',
    'metric',
    'value',
    'offload / anchor',
    'prototype ceiling',
    'target',
    'server CPU s / 1k jobs',
    'agent or worker CPU s / 1k',
    'database CPU s / 1k',
    'server peak RSS MiB',
    'agent or worker peak RSS MiB',
    'other load CPU %',
    'earlier-run figure (fallback)',
  ];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    const ratio =
      (r.scenario === 'target' || r.scenario === 'design floor') && !r.metric.includes('MiB');
    const value = r.skipped
      ? `skipped: ${r.skipped}`
      : r.failed && r.value.n === 0
        ? 'FAILED'
        : fmtSummary(r.value, ratio ? times : fmt);
    const cells = [
      r.scenario,
      r.size,
      r.system,
      r.metric,
      value,
      r.vsAnchor,
      r.ceiling,
      r.target,
      fmtCpu(r.serverCpu),
      fmtCpu(r.agentCpu),
      fmtCpu(r.dbCpu),
      r.serverRss ? fmtSummary(r.serverRss) : '',
      r.agentRss ? fmtSummary(r.agentRss) : '',
      r.other ? fmtSummary(r.other) : '',
      r.fallback,
    ].map((x) => (x === undefined ? '' : x.replace(/\|/g, '\\|')));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * One line per row with a failed repetition.
 * @param {Row[]} rows
 */
export function failuresText(rows) {
  return rows
    .filter((r) => r.failed)
    .map((r) => `- ${r.scenario} (${r.size}, ${r.system}): ${(r.failed ?? '').split('\n')[0]}`);
}
