// What each anchor queue (bullmq.js, pgboss.js, graphile.js) and the design's floor
// (prototype.js) provide to the anchor driver (driver.js), after the adapters of the shared
// anchor harness (../shared/bench/anchors/).
// The runner sees anchors and offload through one interface, `System` in ../lib/systems.js.

/**
 * @typedef {object} AnchorContext
 * @property {'enqueue' | 'process' | 'latency'} mode what is measured; picks each queue's best settings
 * @property {string} schema the PostgreSQL schema of this measurement (PostgreSQL queues only)
 * @property {string} [url] where the queue's own server listens (the prototype only; its
 *   setup sets it before the worker starts)
 */

/**
 * @typedef {object} Producer
 * @property {(payloads: object[]) => Promise<void>} bulk one bulk add (the driver passes 1,000)
 * @property {(data: object) => Promise<void>} add one add
 * @property {(data: object) => Promise<unknown>} one one add, resolving with what waitDone takes
 * @property {(handle: unknown) => Promise<void>} waitDone resolves once that job has completed
 * @property {() => Promise<number>} completed completed jobs so far, from the queue's storage
 * @property {() => Promise<void>} close
 */

/**
 * @typedef {object} AnchorWorker
 * @property {() => Promise<void>} start starts taking jobs
 * @property {() => Promise<void>} close
 */

/**
 * @typedef {object} AnchorAdapter
 * @property {string} id
 * @property {string} label
 * @property {string} pkg its npm package (for the version in the report)
 * @property {string} database what to call its database process in the report
 * @property {() => Promise<string | null>} unavailable why it cannot run here (one line), or null
 * @property {(ctx: AnchorContext) => string} settings the settings measured, in words
 * @property {() => Promise<number | null>} databasePid the database process (for its CPU time)
 * @property {boolean} [ownServer] the database process is the queue's own server (the
 *   prototype): its CPU and RSS are reported as the server's
 * @property {(ctx: AnchorContext) => Promise<void>} setup fresh, empty queue storage
 * @property {(ctx: AnchorContext) => Promise<void>} teardown drops it
 * @property {(ctx: AnchorContext) => Promise<Producer>} producer
 * @property {(ctx: AnchorContext, onJob: (data: any) => void) => Promise<AnchorWorker>} worker
 */

export const ANCHOR_IDS = /** @type {const} */ (['bullmq', 'pgboss', 'graphile', 'prototype']);
/** @typedef {(typeof ANCHOR_IDS)[number]} AnchorId */

/**
 * @param {string} id
 * @returns {Promise<AnchorAdapter>}
 */
export async function loadAnchor(id) {
  if (id === 'bullmq') return import('./bullmq.js');
  if (id === 'pgboss') return import('./pgboss.js');
  if (id === 'graphile') return import('./graphile.js');
  if (id === 'prototype') return import('./prototype.js');
  throw new Error(`unknown anchor ${id}; one of ${ANCHOR_IDS.join(', ')}`);
}
