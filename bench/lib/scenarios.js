import { depthCase, loneCase, simProcessCase } from './offload-cases.js';
import { shellCase, taskCase } from './offload-agent-cases.js';
import {
  BATCH_SIZE,
  k,
  MODES,
  PROCESS_MAX,
  SHELL_CONCURRENCY,
  SINGLE_CONCURRENCY,
} from './modes.js';
import { OFFLOAD_POSTGRES, OFFLOAD_SQLITE, SYSTEMS } from './systems.js';

export { MODES };
/** @typedef {import('./modes.js').Case} Case */
/** @typedef {import('./modes.js').Mode} Mode */

/**
 * Every measurement of a mode, each in fresh processes (and a fresh store): first what every
 * system is measured on (enqueue, processing, lone-job latency), then offload's own.
 * @param {Mode} mode
 * @returns {Case[]}
 */
export function buildCases(mode) {
  const m = MODES[mode];
  /** @type {Case[]} */
  const cases = [];
  /**
   * @param {string} group
   * @param {string} tag
   * @param {import('./systems.js').System} system
   * @param {string} size
   * @param {Case['run']} run
   */
  const add = (group, tag, system, size, run) =>
    cases.push({ id: `${group}@${tag}/${system.id}`, group, size, system, run });

  for (const sys of SYSTEMS) {
    const b = m.submitBatch;
    add('submit-batch', k(b.n), sys, `${k(b.n)} jobs, ${k(BATCH_SIZE)} per add`, (o) =>
      sys.submit('batch', b, o),
    );
  }
  for (const sys of SYSTEMS) {
    const s = m.submitSingle;
    add('submit-single', k(s.n), sys, `${k(s.n)} jobs, ${SINGLE_CONCURRENCY} in flight`, (o) =>
      sys.submit('single', s, o),
    );
  }
  for (const workers of [1, 2]) {
    for (const sys of SYSTEMS) {
      if (!sys.workers.includes(workers)) continue;
      const n = m.process;
      add(`process-${workers}`, k(n), sys, `${k(n)} no-op jobs; ${sys.processWith}`, (o) =>
        sys.process(n, workers, o),
      );
    }
  }
  for (const s of m.lone) {
    for (const sys of SYSTEMS) {
      add(
        'lone-latency',
        `${k(s.warmup)}-warm`,
        sys,
        `${k(s.n)} sequential, ${k(s.warmup)} warm-up`,
        (o) => sys.lone(s, o),
      );
    }
  }

  const offloads = [OFFLOAD_SQLITE, OFFLOAD_POSTGRES];
  const store = (/** @type {import('./systems.js').System} */ sys) =>
    sys === OFFLOAD_SQLITE ? 'sqlite' : 'postgres';
  for (const servers of m.multi.servers) {
    const n = m.multi.process;
    const agents = m.multi.agents;
    const size = `${k(n)} no-op jobs, ${servers} server${servers > 1 ? 's' : ''}, ${agents} real agents spread over them`;
    add(`servers-process`, `${k(n)}-${servers}`, OFFLOAD_POSTGRES, size, (o) =>
      taskCase('postgres', { servers, agents, n }, o),
    );
  }
  for (const servers of m.multi.servers) {
    const s = m.multi.lone;
    const where = servers > 1 ? `submit to server 1, agent on server ${servers}` : '1 server';
    const size = `${k(s.n)} sequential (≤ ${m.multi.capSec} s), ${k(s.warmup)} warm-up, simulated agent; ${where}`;
    add(`servers-lone`, `${k(s.n)}-${servers}`, OFFLOAD_POSTGRES, size, (o) =>
      loneCase('postgres', s, o, { servers, capSec: m.multi.capSec, agent: 'sim' }),
    );
  }
  for (const s of m.lone) {
    for (const sys of offloads) {
      const size = `${k(s.n)} sequential, ${k(s.warmup)} warm-up, 1 simulated agent`;
      add('lone-sim', `${k(s.warmup)}-warm`, sys, size, (o) =>
        loneCase(store(sys), s, o, { agent: 'sim' }),
      );
    }
  }
  for (const agents of [1, 2]) {
    for (const sys of offloads) {
      const n = m.simProcess;
      const size = `${k(n)} jobs, ${agents} simulated agent${agents > 1 ? 's' : ''}, ${PROCESS_MAX}/claim`;
      add(`process-sim-${agents}`, k(n), sys, size, (o) =>
        simProcessCase(store(sys), agents, n, o),
      );
    }
  }
  for (const sys of offloads) {
    for (const depth of m.depth.depths) {
      const size = `${k(depth)} queued, ${m.depth.samples} cycles after ${k(m.depth.warmup)} warm-up`;
      add('claim-depth', k(depth), sys, size, (o) => depthCase(store(sys), depth, m.depth, o));
    }
  }
  for (const sys of offloads) {
    const s = m.shell;
    add(
      'shell-overhead',
      k(s.n),
      sys,
      `${k(s.n)} sequential \`true\`, 1 real agent, --max-jobs 1`,
      (o) => shellCase(store(sys), s, 1, o),
    );
    add(
      'shell-throughput',
      k(s.n),
      sys,
      `${k(s.n)} \`true\`, ${SHELL_CONCURRENCY} in flight, --max-jobs ${SHELL_CONCURRENCY}`,
      (o) => shellCase(store(sys), s, SHELL_CONCURRENCY, o),
    );
  }
  return cases;
}
