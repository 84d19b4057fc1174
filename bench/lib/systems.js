import { anchorCase } from './anchor-cases.js';
import { loneCase, submitCase } from './offload-cases.js';
import { taskCase } from './offload-agent-cases.js';
import { postgresUnavailable } from './postgres.js';
import { redisUnavailable } from './redis.js';

// The systems measured side by side, behind one interface: offload on SQLite and on
// PostgreSQL, the anchors (BullMQ on Redis, pg-boss and graphile-worker on PostgreSQL, as
// ../shared/bench/anchors/ measured them, in bench/anchors/), and the floor of offload's
// design (a bare HTTP + SQLite prototype, bench/prototype/, driven as an anchor).

/** @typedef {import('./modes.js').CaseResult} CaseResult */
/** @typedef {import('./modes.js').Sized} Sized */
/** @typedef {import('./server-process.js').ServerOptions} ServerOptions */

/**
 * @typedef {object} System
 * @property {string} id what --only matches (offload-sqlite, offload-postgres, bullmq, pgboss,
 *   graphile, prototype)
 * @property {string} label
 * @property {'offload' | 'anchor'} kind
 * @property {'sqlite' | 'postgres' | 'redis'} backend
 * @property {() => Promise<string | null>} unavailable why it cannot run here (one line), or null
 * @property {number[]} workers the worker counts its processing is measured with
 * @property {string} processWith how it processes, for the table's size column
 * @property {(kind: 'single' | 'batch', s: Sized, o: ServerOptions) => Promise<CaseResult>} submit
 *   enqueue throughput: single adds from 50 in flight, or bulk adds of 1,000
 * @property {(n: number, workers: number, o: ServerOptions) => Promise<CaseResult>} process
 *   n no-op jobs queued first, then processed: jobs/s from the first to the last completion
 * @property {(s: Sized, o: ServerOptions) => Promise<CaseResult>} lone
 *   lone-job latency on an idle, running worker: s.n sequential jobs after s.warmup
 */

/**
 * offload: a server (bench/server.js) per case; the real agent (a no-op task) for processing
 * and the lone job, as the anchors use their real workers; submitters in their own process.
 * @param {'sqlite' | 'postgres'} store
 * @returns {System}
 */
function offload(store) {
  return {
    id: `offload-${store}`,
    label: `offload (${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
    kind: 'offload',
    backend: store,
    unavailable: store === 'sqlite' ? async () => null : postgresUnavailable,
    workers: [1, 2],
    processWith: 'real agents, no-op task, --max-jobs 500',
    submit: (kind, s, o) => submitCase(store, kind, s, o),
    process: (n, agents, o) => taskCase(store, { servers: 1, agents, n }, o),
    lone: (s, o) => loneCase(store, s, o),
  };
}

/**
 * An anchor queue, or the prototype: bench/anchors/driver.js per case.
 * @param {string} id
 * @param {string} label
 * @param {'sqlite' | 'postgres' | 'redis'} backend
 * @param {string} processWith
 * @returns {System}
 */
function anchor(id, label, backend, processWith) {
  return {
    id,
    label,
    kind: 'anchor',
    backend,
    unavailable:
      backend === 'redis'
        ? redisUnavailable
        : backend === 'postgres'
          ? postgresUnavailable
          : async () => null,
    workers: [1],
    processWith,
    submit: (kind, s) => anchorCase(id, kind === 'single' ? 'enqueue-single' : 'enqueue-bulk', s),
    process: (n) => anchorCase(id, 'process', { n }),
    lone: (s) => anchorCase(id, 'latency', s),
  };
}

export const OFFLOAD_SQLITE = offload('sqlite');
export const OFFLOAD_POSTGRES = offload('postgres');
export const BULLMQ = anchor('bullmq', 'BullMQ', 'redis', '1 worker, concurrency 100');
export const PGBOSS = anchor('pgboss', 'pg-boss', 'postgres', '1 worker, batchSize 100, burst');
export const GRAPHILE = anchor(
  'graphile',
  'graphile-worker',
  'postgres',
  '1 worker, concurrency 10, localQueue 10, batched completions',
);
// The design's floor (not PROTOTYPE of references.js: the limits run's figures of it).
const FLOOR = anchor(
  'prototype',
  'prototype (bare HTTP + SQLite)',
  'sqlite',
  '1 worker, 500 a claim, completions on the next claim',
);

/** In table order. */
export const SYSTEMS = [OFFLOAD_SQLITE, OFFLOAD_POSTGRES, BULLMQ, PGBOSS, GRAPHILE, FLOOR];
