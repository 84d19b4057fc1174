import { BULLMQ, PROTOTYPE } from './references.js';
import { fmt, fmtSummary, summarize } from './stats.js';

/**
 * @typedef {import('./scenarios.js').CaseResult | { error: string, loadBeforePct?: number, noisyRuns?: number }} RunResult
 * @typedef {import('./stats.js').Summary} Summary
 * @typedef {object} Row
 * @property {string} scenario
 * @property {string} size
 * @property {string} metric
 * @property {Summary} value
 * @property {string | null} failed
 * @property {number | null} bullmq
 * @property {number | null} prototype
 * @property {Summary} [cpuPer1k]
 * @property {Summary} [cpuPct]
 * @property {Summary} [rss]
 * @property {Summary} [other]
 */

/** @type {Record<string, string>} */
const GROUP_TITLES = {
  'process-1': 'process (1 agent)',
  'process-2': 'process (2 agents)',
  'task-throughput-1': 'task-throughput (1 agent)',
  'task-throughput-2': 'task-throughput (2 agents)',
};

/** The metrics shown per group (the first row carries the resource columns); default jobs/s. */
/** @type {Record<string, string[]>} */
const GROUP_METRICS = {
  'lone-latency': ['p50Ms', 'p95Ms', 'p99Ms'],
  'claim-depth': ['p50Ms', 'p99Ms'],
  'shell-overhead': ['p50Ms', 'meanMs', 'bareP50Ms', 'bareMeanMs', 'ratioP50', 'ratioMean'],
  'shell-throughput': ['jobsPerSec', 'bareJobsPerSec', 'ratioTime'],
};

/**
 * Reference figures per group and metric: [BullMQ, prototype] (see references.js for sources).
 * @type {Record<string, Record<string, [number | null, number | null]>>}
 */
const REFS = {
  'submit-single': { jobsPerSec: [BULLMQ.submitSingleJobsPerSec, null] },
  'submit-batch': { jobsPerSec: [BULLMQ.submitBatchJobsPerSec, PROTOTYPE.submitBatchJobsPerSec] },
  'process-1': { jobsPerSec: [BULLMQ.processJobsPerSec, PROTOTYPE.process1JobsPerSec] },
  'process-2': { jobsPerSec: [BULLMQ.processJobsPerSec, PROTOTYPE.process2JobsPerSec] },
  'lone-latency': {
    p50Ms: [BULLMQ.loneP50Ms, PROTOTYPE.loneP50Ms],
    p95Ms: [BULLMQ.loneP95Ms, null],
    p99Ms: [BULLMQ.loneP99Ms, PROTOTYPE.loneP99Ms],
  },
  'claim-depth': { ratio: [null, PROTOTYPE.claimDepthRatio] },
};

/** @type {Record<string, string>} */
const METRIC_LABELS = {
  jobsPerSec: 'jobs/s',
  p50Ms: 'p50 ms',
  p95Ms: 'p95 ms',
  p99Ms: 'p99 ms',
  meanMs: 'mean ms',
  bareP50Ms: 'bare spawn p50 ms',
  bareMeanMs: 'bare spawn mean ms',
  ratioP50: 'p50 offload / bare spawn',
  ratioMean: 'mean offload / bare spawn',
  bareJobsPerSec: 'bare spawn jobs/s',
  ratioTime: 'wall time offload / bare spawn',
};

/**
 * @param {number} a
 * @param {number | null} b
 */
const ratio = (a, b) => (Number.isFinite(a) && b ? `${(a / b).toFixed(2)}×` : '—');

/**
 * @param {RunResult} r
 * @returns {r is import('./scenarios.js').CaseResult}
 */
const isOk = (r) => !('error' in r);

/**
 * Table rows. `runs[caseId]` holds one result (or `{ error }`) per repetition; cells are
 * medians and ranges over the repetitions.
 * @param {import('./scenarios.js').Case[]} cases
 * @param {Record<string, RunResult[]>} runs
 * @returns {Row[]}
 */
export function buildRows(cases, runs) {
  /** @type {Row[]} */
  const rows = [];
  /** @param {string} id */
  const ok = (id) => (runs[id] ?? []).filter(isOk);
  /** @param {string} id */
  const resources = (id) => {
    const rs = ok(id);
    return {
      cpuPer1k: summarize(rs.map((r) => (r.serverCpuSec / r.jobs) * 1000)),
      cpuPct: summarize(rs.map((r) => (100 * r.serverCpuSec) / (r.wallMs / 1000))),
      rss: summarize(rs.map((r) => r.peakRssMiB)),
      other: summarize(rs.map((r) => Math.max(0, r.otherCpuPct))),
    };
  };
  /**
   * @param {import('./scenarios.js').Case} c
   * @param {string} label
   * @param {number[]} values
   * @param {[number | null, number | null] | undefined} refs
   * @param {boolean} withResources
   */
  const push = (c, label, values, refs, withResources) => {
    const all = runs[c.id] ?? [];
    const fail = all.flatMap((r) => ('error' in r ? [r.error] : []));
    const [bull, proto] = refs ?? [null, null];
    rows.push({
      scenario: GROUP_TITLES[c.group] ?? c.group,
      size: c.size,
      metric: label,
      value: summarize(values),
      failed: fail.length ? `${fail.length} of ${all.length} runs failed: ${fail[0]}` : null,
      bullmq: bull,
      prototype: proto,
      ...(withResources ? resources(c.id) : {}),
    });
  };

  /** @type {import('./scenarios.js').Case[]} */
  const depthCases = [];
  for (const c of cases) {
    if (c.group === 'claim-depth') depthCases.push(c);
    const rs = ok(c.id);
    const metrics = GROUP_METRICS[c.group] ?? ['jobsPerSec'];
    metrics.forEach((m, i) => {
      const label = `${c.group === 'claim-depth' ? 'claim+complete ' : ''}${METRIC_LABELS[m] ?? m}`;
      const refs = c.group === 'claim-depth' ? undefined : REFS[c.group]?.[m];
      push(
        c,
        label,
        rs.map((r) => r.metrics[m] ?? NaN),
        refs,
        i === 0,
      );
    });
  }
  // Deep/shallow ratios, per repetition (against the same repetition's shallow run).
  // They go right after the last claim-depth row, ahead of the scenarios listed after it.
  const [shallow, ...deeper] = depthCases;
  let lastDepthRow = -1;
  rows.forEach((r, i) => {
    if (r.scenario === 'claim-depth') lastDepthRow = i;
  });
  const after = lastDepthRow >= 0 ? rows.splice(lastDepthRow + 1) : [];
  if (shallow) {
    const sh = runs[shallow.id] ?? [];
    for (const deep of deeper) {
      const dp = runs[deep.id] ?? [];
      for (const m of ['p50Ms', 'p99Ms']) {
        const values = dp.map((r, i) => {
          const base = sh[i];
          return isOk(r) && base && isOk(base)
            ? (r.metrics[m] ?? NaN) / (base.metrics[m] ?? NaN)
            : NaN;
        });
        const size = `${deep.size.split(',')[0]} vs ${shallow.size.split(',')[0]}`;
        push(
          { ...deep, size },
          `${m.slice(0, 3)} ratio deep/shallow`,
          values,
          m === 'p50Ms' ? REFS['claim-depth']?.ratio : undefined,
          false,
        );
      }
    }
  }
  rows.push(...after);
  return rows;
}

/** @param {Summary} s */
const fmtCpu = (s) => fmtSummary(s, (x) => x.toFixed(3));

/**
 * The results as a Markdown table.
 * @param {Row[]} rows
 */
export function renderTable(rows) {
  const head = [
    'scenario',
    'size',
    'metric',
    'offload',
    'BullMQ ref',
    'offload / BullMQ',
    'prototype ceiling',
    'offload / prototype',
    'server CPU s per 1k jobs',
    'server CPU % (1 core = 100)',
    'server peak RSS MiB',
    'other load CPU %',
  ];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    const cells = [
      r.scenario,
      r.size,
      r.metric,
      r.failed && r.value.n === 0 ? 'FAILED' : fmtSummary(r.value),
      r.bullmq === null ? '—' : fmt(r.bullmq),
      ratio(r.value.median, r.bullmq),
      r.prototype === null ? '—' : fmt(r.prototype),
      ratio(r.value.median, r.prototype),
      r.cpuPer1k ? fmtCpu(r.cpuPer1k) : '',
      r.cpuPct ? fmtSummary(r.cpuPct) : '',
      r.rss ? fmtSummary(r.rss) : '',
      r.other ? fmtSummary(r.other) : '',
    ];
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
    .map((r) => `- ${r.scenario} (${r.size}): ${(r.failed ?? '').split('\n')[0]}`);
}
