import { readFileSync } from 'node:fs';
import { frameName, framePackage } from './profile.js';

/**
 * @typedef {{ functionName: string, url: string, lineNumber: number }} CallFrame
 * @typedef {{ callFrame: CallFrame, selfSize: number, children: SamplingNode[] }} SamplingNode
 * @typedef {{ name: string, mib: number, pct: number }} RankedBytes
 * @typedef {{ file: string, totalMiB: number, self: RankedBytes[], packages: RankedBytes[] }} AllocSummary
 */

/**
 * Where a sampling heap profile allocated (bench/server.js writes one per window with
 * `--alloc-prof`): bytes by allocating function and by package. The profile keeps the
 * objects garbage collection took since (V8's includeObjectsCollectedBy* flags), so this is
 * the allocation rate — what the scavenges pay for — not what stays in the heap.
 * @param {string} file
 * @param {{ top?: number, root?: string }} [options]
 * @returns {AllocSummary}
 */
export function summarizeAllocations(file, { top = 25, root = process.cwd() } = {}) {
  const { head } = /** @type {{ head: SamplingNode }} */ (JSON.parse(readFileSync(file, 'utf8')));
  /** @type {Map<string, number>} */
  const self = new Map();
  /** @type {Map<string, number>} */
  const pkgs = new Map();
  let total = 0;
  /** @type {SamplingNode[]} */
  const stack = [head];
  for (let n = stack.pop(); n; n = stack.pop()) {
    stack.push(...n.children);
    if (n.selfSize === 0) continue;
    total += n.selfSize;
    const name = frameName(n.callFrame, root);
    self.set(name, (self.get(name) ?? 0) + n.selfSize);
    const pkg = framePackage(n.callFrame, root);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + n.selfSize);
  }
  /**
   * @param {Map<string, number>} m
   * @param {number} n
   * @returns {RankedBytes[]}
   */
  const rank = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, bytes]) => ({
        name,
        mib: bytes / 2 ** 20,
        pct: total ? (100 * bytes) / total : 0,
      }));
  return { file, totalMiB: total / 2 ** 20, self: rank(self, top), packages: rank(pkgs, 15) };
}

/**
 * @param {AllocSummary} summary
 * @param {number} [top]
 */
export function renderAllocations(summary, top = 25) {
  /** @param {RankedBytes} r */
  const line = (r) =>
    `  ${r.pct.toFixed(1).padStart(5)} %  ${r.mib.toFixed(1).padStart(8)} MiB  ${r.name}`;
  return [
    `allocations ${summary.file}: ${summary.totalMiB.toFixed(0)} MiB allocated in the window (sampled)`,
    ' by package:',
    ...summary.packages.map(line),
    ' by allocating function:',
    ...summary.self.slice(0, top).map(line),
  ].join('\n');
}
