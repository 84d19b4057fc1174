// graphile-worker 0.18 on PostgreSQL, as the anchor benchmarks measured it
// (../shared/bench/anchors/adapters/graphile.js, adapted): for throughput concurrency 10
// with localQueue {size: 10} and completeJobBatchDelay 0 (its best there, 14,400 jobs/s;
// concurrency 100 gave 10,000 and needs a pool of 102 connections), for latency its defaults
// (LISTEN/NOTIFY, concurrency 1). A schema of its own per case.
import { Logger, makeWorkerUtils, run, runMigrations } from 'graphile-worker';
import { dropSchema, postgresUnavailable, postmasterPid, POSTGRES_URL } from '../lib/postgres.js';
import { poller } from './pg-poller.js';

/** @typedef {import('./adapter.js').AnchorContext} AnchorContext */

export const id = 'graphile';
export const label = 'graphile-worker';
export const pkg = 'graphile-worker';
export const database = 'postgres';
export const CONCURRENCY = 10;

export const unavailable = postgresUnavailable;
export const databasePid = postmasterPid;

// Its console logger prints a line per job: only warnings and errors, so that logging does
// not dominate a no-op benchmark.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[graphile ${level}] ${message}`);
});

/** @param {AnchorContext} ctx */
const batched = (ctx) => ctx.mode !== 'latency';
/** @param {AnchorContext} ctx */
const concurrency = (ctx) => (batched(ctx) ? CONCURRENCY : 1);
/** @param {AnchorContext} ctx */
const preset = (ctx) =>
  batched(ctx)
    ? { worker: { localQueue: { size: CONCURRENCY }, completeJobBatchDelay: 0 } }
    : undefined;
// Its documented pool size: max(10, concurrency + 2).
/** @param {AnchorContext} ctx */
const poolSize = (ctx) => Math.max(10, concurrency(ctx) + 2);

/** @param {AnchorContext} ctx */
export function settings(ctx) {
  return `run({concurrency: ${concurrency(ctx)}, maxPoolSize: ${poolSize(ctx)}, preset: ${JSON.stringify(preset(ctx) ?? null)}}); completion seen by polling the job row every ~1 ms (completed rows are deleted)`;
}

/** @param {AnchorContext} ctx */
export async function setup(ctx) {
  await dropSchema(ctx.schema);
  await runMigrations({ connectionString: POSTGRES_URL, schema: ctx.schema, logger });
}

/** @param {AnchorContext} ctx */
export const teardown = (ctx) => dropSchema(ctx.schema);

/** @returns {Promise<import('./adapter.js').Producer>} */
export async function producer(/** @type {AnchorContext} */ ctx) {
  const utils = await makeWorkerUtils({
    connectionString: POSTGRES_URL,
    schema: ctx.schema,
    logger,
  });
  const p = await poller();
  const jobs = `"${ctx.schema}"._private_jobs`;
  let added = 0;
  return {
    bulk: async (payloads) => {
      await utils.addJobs(payloads.map((payload) => ({ identifier: 'job', payload })));
      added += payloads.length;
    },
    add: async (data) => {
      await utils.addJob('job', data);
      added++;
    },
    one: async (data) => {
      added++;
      return (await utils.addJob('job', data)).id;
    },
    waitDone: (jobId) =>
      p.until(`SELECT 1 FROM ${jobs} WHERE id = $1`, [jobId], (rows) => rows.length === 0),
    // Completed jobs are deleted: completed = added − left.
    completed: async () =>
      added - (await p.query(`SELECT count(*)::int AS n FROM ${jobs}`, [])).rows[0].n,
    close: async () => {
      await p.close();
      await utils.release();
    },
  };
}

/** @returns {Promise<import('./adapter.js').AnchorWorker>} */
export async function worker(
  /** @type {AnchorContext} */ ctx,
  /** @type {(data: any) => void} */ onJob,
) {
  /** @type {import('graphile-worker').Runner | null} */
  let runner = null;
  const p = preset(ctx);
  return {
    start: async () => {
      runner = await run({
        ...(p ? { preset: p } : {}),
        connectionString: POSTGRES_URL,
        schema: ctx.schema,
        concurrency: concurrency(ctx),
        maxPoolSize: poolSize(ctx),
        noHandleSignals: true,
        logger,
        taskList: { job: async (payload) => onJob(payload) },
      });
    },
    close: async () => {
      if (runner) await runner.stop();
    },
  };
}
