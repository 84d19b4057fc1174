import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mean, percentile } from './stats.js';

// `--segments`: a lone job's time split into four legs, all on the server's clock (see
// segments-preload.js, which the servers load). A lone job is
//
//   submit → [handOff] → the agent → [agentTurn] → [answer] → the submitter → [clientTurn]
//
//   handOff     the submit's headers parsed → the agent's parked sync answered with the job
//               (HTTP, auth, validation, the store's submit-and-claim, the answer)
//   agentTurn   that answer handed to the socket → the agent's next sync parsed: both ways
//               over loopback, and the agent's work (its HTTP client, running the job,
//               recording the completion)
//   answer      the sync with the completion parsed → the submitter's wait answered
//   clientTurn  that answer handed to the socket → the next submit parsed (the submitter's
//               turn, over loopback both ways)
//
// The submitter's latency is about handOff + agentTurn + answer plus one trip each way.

/** The preload, as `node --import` takes it. */
export const SEGMENTS_PRELOAD = pathToFileURL(
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'segments-preload.js'),
).href;

export const LEGS = /** @type {const} */ (['handOff', 'agentTurn', 'answer', 'clientTurn']);

/** @typedef {{ n: number, p50Ms: number, meanMs: number, p99Ms: number }} LegFigures */
/** @typedef {{ file: string, legs: Record<typeof LEGS[number], LegFigures> }} SegmentsSummary */

/**
 * The legs a server wrote under `prefix` (one file per server process), each over its last
 * `last` samples (the measured jobs follow the warm-up). A server that saw no lone job (a
 * processing case, or a submit and its agent on different servers) is left out, and so is
 * a case without an offload or prototype server (the anchors).
 * @param {string} prefix
 * @param {number} last
 * @returns {SegmentsSummary[]}
 */
export function readSegments(prefix, last) {
  const dir = path.dirname(prefix);
  const base = `${path.basename(prefix)}-`;
  const files = readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'));
  /** @type {SegmentsSummary[]} */
  const out = [];
  for (const f of files) {
    const file = path.join(dir, f);
    /** @type {Record<string, number[]>} */
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    if (LEGS.some((leg) => (raw[leg]?.length ?? 0) === 0)) continue;
    const legs = /** @type {Record<typeof LEGS[number], LegFigures>} */ ({});
    for (const leg of LEGS) {
      const xs = (raw[leg] ?? []).slice(-last);
      legs[leg] = {
        n: xs.length,
        p50Ms: percentile(xs, 50),
        meanMs: mean(xs),
        p99Ms: percentile(xs, 99),
      };
    }
    out.push({ file, legs });
  }
  return out;
}

/** @param {SegmentsSummary} s */
export function renderSegments(s) {
  const f = (/** @type {number} */ ms) => ms.toFixed(3);
  return [
    `segments ${s.file} (server clock, last ${s.legs.handOff.n} jobs; p50 / mean / p99 ms):`,
    ...LEGS.map((leg) => {
      const x = s.legs[leg];
      return `  ${leg.padEnd(11)} ${f(x.p50Ms)} / ${f(x.meanMs)} / ${f(x.p99Ms)}`;
    }),
  ].join('\n');
}
