// pg-boss 12 on PostgreSQL, as the anchor benchmarks measured it (../shared/bench/anchors/
// adapters/pgboss.js, adapted): for throughput its batch mode (batchSize 100,
// burstWhenBatchFull: its best there, 7,100 jobs/s); for latency LISTEN/NOTIFY with a 0.5 s
// poll (its defaults poll every 2 s, so a lone job waits ~2 s). A schema of its own per case.
import { PgBoss } from 'pg-boss';
import { dropSchema, postgresUnavailable, postmasterPid, POSTGRES_URL } from '../lib/postgres.js';
import { poller } from './pg-poller.js';

/** @typedef {import('./adapter.js').AnchorContext} AnchorContext */

export const id = 'pgboss';
export const label = 'pg-boss';
export const pkg = 'pg-boss';
export const database = 'postgres';
const QUEUE = 'bench';
export const BATCH = 100;

export const unavailable = postgresUnavailable;
export const databasePid = postmasterPid;

/** @param {AnchorContext} ctx */
const notify = (ctx) => ctx.mode === 'latency';

/** @param {AnchorContext} ctx */
function workOptions(ctx) {
  return notify(ctx)
    ? { localConcurrency: 1, batchSize: 1, pollingIntervalSeconds: 0.5 }
    : { localConcurrency: 1, batchSize: BATCH, burstWhenBatchFull: true };
}

/** @param {AnchorContext} ctx */
export function settings(ctx) {
  return `new PgBoss({connectionString${notify(ctx) ? ', useListenNotify: true' : ''}}); boss.work(name, ${JSON.stringify(workOptions(ctx))}, noop)${notify(ctx) ? '; queue {notify: true}' : ''}; completion seen by polling the job row every ~1 ms`;
}

/** @param {AnchorContext} ctx */
function boss(ctx) {
  const b = new PgBoss({
    connectionString: POSTGRES_URL,
    schema: ctx.schema,
    ...(notify(ctx) ? { useListenNotify: true } : {}),
  });
  b.on('error', (e) => console.error('pg-boss error', e));
  return b;
}

/** @param {AnchorContext} ctx */
export async function setup(ctx) {
  await dropSchema(ctx.schema);
  const b = boss(ctx);
  await b.start();
  await b.createQueue(QUEUE, { notify: notify(ctx) });
  await b.stop({ graceful: false, close: true });
}

/** @param {AnchorContext} ctx */
export const teardown = (ctx) => dropSchema(ctx.schema);

/** @returns {Promise<import('./adapter.js').Producer>} */
export async function producer(/** @type {AnchorContext} */ ctx) {
  const b = boss(ctx);
  await b.start();
  const p = await poller();
  const jobTable = `"${ctx.schema}".job`;
  return {
    bulk: async (payloads) =>
      void (await b.insert(
        QUEUE,
        payloads.map((data) => ({ data })),
      )),
    add: async (data) => void (await b.send(QUEUE, data)),
    one: (data) => b.send(QUEUE, data),
    waitDone: (jobId) =>
      p.until(
        `SELECT state FROM ${jobTable} WHERE name = $1 AND id = $2`,
        [QUEUE, jobId],
        (rows) => rows[0]?.state === 'completed',
      ),
    completed: async () =>
      (
        await p.query(
          `SELECT count(*)::int AS n FROM ${jobTable} WHERE name = $1 AND state = 'completed'`,
          [QUEUE],
        )
      ).rows[0].n,
    close: async () => {
      await p.close();
      await b.stop({ graceful: false, close: true });
    },
  };
}

/** @returns {Promise<import('./adapter.js').AnchorWorker>} */
export async function worker(
  /** @type {AnchorContext} */ ctx,
  /** @type {(data: any) => void} */ onJob,
) {
  const b = boss(ctx);
  b.on('warning', (w) => console.error('pg-boss warning', w?.message ?? w));
  await b.start();
  return {
    start: async () => {
      await b.work(QUEUE, workOptions(ctx), async (jobs) => {
        for (const j of jobs) onJob(j.data);
      });
    },
    close: () => b.stop({ graceful: true, timeout: 5_000, close: true }),
  };
}
