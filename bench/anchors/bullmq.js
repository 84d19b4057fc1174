// BullMQ 6 on Redis, as the anchor benchmarks measured it (../shared/bench/anchors/adapters/
// bullmq.js, adapted): library defaults, concurrency 100 for throughput (its best there,
// 28k jobs/s), 1 for latency. Its own Redis logical database, flushed before each case.
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS, REDIS_DB, redisServerInfo, redisUnavailable } from '../lib/redis.js';

/** @typedef {import('./adapter.js').AnchorContext} AnchorContext */

export const id = 'bullmq';
export const label = 'BullMQ';
export const pkg = 'bullmq';
export const database = 'redis-server';
const connection = { host: REDIS.host, port: REDIS.port, db: REDIS_DB };
const QUEUE = 'bench';

export const unavailable = redisUnavailable;

/** @param {AnchorContext} ctx */
export const concurrency = (ctx) => (ctx.mode === 'latency' ? 1 : 100);

/** @param {AnchorContext} ctx */
export function settings(ctx) {
  return `new Worker(name, noop, {concurrency: ${concurrency(ctx)}}) defaults; Redis 127.0.0.1, no persistence; completion seen through QueueEvents (waitUntilFinished)`;
}

export async function databasePid() {
  return (await redisServerInfo()).pid;
}

export async function setup() {
  const r = new Redis(connection);
  await r.flushdb();
  r.disconnect();
}

export const teardown = setup;

/** @returns {Promise<import('./adapter.js').Producer>} */
export async function producer(/** @type {AnchorContext} */ ctx) {
  const q = new Queue(QUEUE, { connection });
  await q.waitUntilReady();
  /** @type {QueueEvents | null} */
  let qe = null;
  if (ctx.mode === 'latency') {
    qe = new QueueEvents(QUEUE, { connection });
    await qe.waitUntilReady();
  }
  const events = qe;
  return {
    bulk: async (payloads) =>
      void (await q.addBulk(payloads.map((data) => ({ name: 'job', data })))),
    add: async (data) => void (await q.add('job', data)),
    one: (data) => q.add('job', data),
    waitDone: async (job) => {
      if (!events) throw new Error('waitDone needs the latency mode');
      await /** @type {import('bullmq').Job} */ (job).waitUntilFinished(events, 30_000);
    },
    completed: () => q.getCompletedCount(),
    close: async () => {
      if (events) await events.close();
      await q.close();
    },
  };
}

/** @returns {Promise<import('./adapter.js').AnchorWorker>} */
export async function worker(
  /** @type {AnchorContext} */ ctx,
  /** @type {(data: any) => void} */ onJob,
) {
  const w = new Worker(QUEUE, async (job) => onJob(job.data), {
    connection,
    concurrency: concurrency(ctx),
    autorun: false,
  });
  w.on('error', (e) => console.error('bullmq worker error', e));
  await w.waitUntilReady();
  return {
    start: async () => void w.run(),
    close: () => w.close(),
  };
}
