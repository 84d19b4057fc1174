import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @typedef {{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], startTime: number, samples: number[], timeDeltas: number[] }} CpuProfile
 * @typedef {{ name: string, ms: number, pct: number }} Ranked
 * @typedef {{ file: string, busyMs: number, idleMs: number, self: Ranked[], inclusive: Ranked[], packages: Ranked[] }} ProfileSummary
 */

/**
 * Where a V8 .cpuprofile (from `node --cpu-prof`) spent its time: self and inclusive time
 * per function and self time per package, optionally only for samples taken between
 * `fromUs` and `toUs` (CLOCK_MONOTONIC µs, as `process.hrtime.bigint() / 1000n` gives in
 * any process on the machine: the same clock as the profile's timestamps on Linux).
 * @param {string} file
 * @param {{ fromUs?: number, toUs?: number, top?: number, root?: string }} [options]
 * @returns {ProfileSummary}
 */
export function summarizeProfile(
  file,
  { fromUs = -Infinity, toUs = Infinity, top = 25, root = process.cwd() } = {},
) {
  const prof = /** @type {CpuProfile} */ (JSON.parse(readFileSync(file, 'utf8')));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  /** @param {ProfileNode} n */
  const keyOf = (n) => frameName(n.callFrame, root);
  /** @param {ProfileNode} n */
  const pkgOf = (n) => framePackage(n.callFrame, root);

  /** @type {Map<string, number>} */
  const self = new Map();
  /** @type {Map<string, number>} */
  const total = new Map();
  /** @type {Map<string, number>} */
  const pkgs = new Map();
  let t = prof.startTime;
  let sampled = 0;
  let idle = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    // A sample's weight is the time until the next sample.
    const dt = prof.timeDeltas[i + 1] ?? 0;
    const node = byId.get(/** @type {number} */ (prof.samples[i]));
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    sampled += dt;
    const k = keyOf(node);
    self.set(k, (self.get(k) ?? 0) + dt);
    const p = pkgOf(node);
    pkgs.set(p, (pkgs.get(p) ?? 0) + dt);
    const seen = new Set();
    for (
      let n = /** @type {ProfileNode | undefined} */ (node);
      n;
      n = byId.get(parent.get(n.id) ?? -1)
    ) {
      const kk = keyOf(n);
      if (seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + dt);
    }
  }
  /**
   * @param {Map<string, number>} m
   * @param {number} n
   * @returns {Ranked[]}
   */
  const rank = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: sampled ? (100 * us) / sampled : 0 }));
  return {
    file,
    busyMs: sampled / 1000,
    idleMs: idle / 1000,
    self: rank(self, top),
    inclusive: rank(
      new Map(
        [...total.entries()].filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(program)')),
      ),
      top,
    ),
    packages: rank(pkgs, 15),
  };
}

/**
 * A frame as the summaries name it: `function path:line`, the path relative to the repo.
 * @param {{ functionName: string, url: string, lineNumber: number }} f
 * @param {string} root
 */
export function frameName(f, root) {
  const url = f.url ? shortUrl(f.url, root) : '';
  return `${f.functionName || '(anonymous)'}${url ? ` ${url}:${f.lineNumber + 1}` : ''}`;
}

/**
 * The package a frame's code belongs to: an npm package, `@offload/<package>`, Node's own
 * modules, or V8's pseudo-frames (`(garbage collector)`, `(native)`).
 * @param {{ functionName: string, url: string }} f
 * @param {string} root
 */
export function framePackage(f, root) {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const u = shortUrl(f.url, root);
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm?.[1]) return nm[1];
  const pk = /^packages\/([^/]+)/.exec(u);
  if (pk?.[1]) return `@offload/${pk[1]}`;
  if (u.startsWith('node:')) return 'node: (built-in)';
  return u;
}

/**
 * @param {string} url
 * @param {string} root
 */
function shortUrl(url, root) {
  let u = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  if (u.startsWith(root + path.sep)) u = u.slice(root.length + 1);
  return u.replace(/^.*?node_modules\//, 'node_modules/');
}

/**
 * @param {ProfileSummary} summary
 * @param {{ self?: number, inclusive?: number }} [limits]
 */
export function renderProfile(summary, { self = 20, inclusive = 20 } = {}) {
  /** @param {Ranked} r */
  const line = (r) =>
    `  ${r.pct.toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`;
  return [
    `profile ${summary.file}: ${summary.busyMs.toFixed(0)} ms sampled busy in the window (${summary.idleMs.toFixed(0)} ms idle)`,
    ' self time by package:',
    ...summary.packages.map(line),
    ' self time by function:',
    ...summary.self.slice(0, self).map(line),
    ' inclusive time by function:',
    ...summary.inclusive.slice(0, inclusive).map(line),
  ].join('\n');
}
