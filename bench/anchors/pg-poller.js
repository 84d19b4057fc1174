import pg from 'pg';
import { POSTGRES_URL } from '../lib/postgres.js';

/**
 * A connection of its own that polls a query every ~1 ms until a predicate holds: pg-boss
 * and graphile-worker have no cross-process completion event, so the anchor harness (and
 * this one) sees a job's completion this way; it adds ~0.5–1 ms to their lone-job latency
 * (../shared/bench/anchors/RESULTS.md, Method).
 */
export async function poller() {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  return {
    /**
     * @param {string} text
     * @param {unknown[]} values
     */
    query: (text, values) => c.query({ name: text.slice(0, 60), text, values }),
    /**
     * @param {string} text
     * @param {unknown[]} values
     * @param {(rows: any[]) => boolean} done
     * @param {number} [timeoutMs]
     */
    async until(text, values, done, timeoutMs = 30_000) {
      const t0 = performance.now();
      for (;;) {
        const { rows } = await c.query({ name: text.slice(0, 60), text, values });
        if (done(rows)) return;
        if (performance.now() - t0 > timeoutMs) throw new Error(`not done within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    close: () => c.end(),
  };
}
