import type { JobState } from '@offload/protocol';
import { zeroCounts } from '../shared/counts.js';
import type { Store } from '../store.js';
import { ChangeSet } from './postgres-changes.js';
import type { PgContext } from './postgres-context.js';

type QueueMethods = Pick<
  Store,
  | 'queuesList'
  | 'queueSetPaused'
  | 'pausedQueues'
  | 'countsByState'
  | 'classesList'
  | 'classesWithQueued'
>;

/**
 * Classes with a queued job: one probe of the claim index per class (classes are few),
 * LIMIT 1 each, so the cost does not grow with the queue depth as a semi-join over every
 * queued job could. The ORDER BY is the index's: without it the planner may expect to
 * meet a queued row early in a sequential scan of jobs (it did, on 6,000 rows), which
 * with most rows finished is the worst plan.
 */
export const CLASSES_WITH_QUEUED_SQL =
  'SELECT c.id FROM job_classes c CROSS JOIN LATERAL ' +
  "(SELECT 1 FROM jobs j WHERE j.state = 'queued' AND j.class_id = c.id ORDER BY j.priority, j.queued_at, j.seq LIMIT 1) AS q";

/**
 * Counts come from job_counts (kept in the jobs' own transactions, summed over its shards);
 * paused queues from the queues table — not from memory, since another server may pause
 * one. Classes from the database through the class cache.
 */
export function createPgQueues(ctx: PgContext): QueueMethods {
  return {
    async queuesList() {
      const rows = await ctx.rows<{ queue: string; state: JobState; n: number }>(
        ctx.pool,
        'SELECT queue, state, SUM(n)::bigint AS n FROM job_counts GROUP BY queue, state HAVING SUM(n) > 0',
      );
      const paused = await pausedNames();
      const byQueue = new Map<
        string,
        { name: string; paused: boolean; counts: Record<JobState, number> }
      >();
      const entry = (name: string) => {
        let e = byQueue.get(name);
        if (e === undefined) {
          e = { name, paused: paused.has(name), counts: zeroCounts() };
          byQueue.set(name, e);
        }
        return e;
      };
      for (const r of rows) entry(r.queue).counts[r.state] = r.n;
      for (const name of paused) entry(name);
      return [...byQueue.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async queueSetPaused({ name, paused }) {
      if (paused)
        await ctx.rows(
          ctx.pool,
          'INSERT INTO queues (name, paused) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET paused = 1',
          [name],
        );
      else await ctx.rows(ctx.pool, 'DELETE FROM queues WHERE name = $1', [name]);
      const changed = new ChangeSet();
      changed.queues = true;
      await ctx.notifyNow(changed);
    },

    async pausedQueues() {
      return pausedNames();
    },

    async countsByState() {
      const counts = zeroCounts();
      for (const r of await ctx.rows<{ state: JobState; n: number }>(
        ctx.pool,
        'SELECT state, SUM(n)::bigint AS n FROM job_counts GROUP BY state',
      ))
        counts[r.state] = r.n;
      return counts;
    },

    async classesList({ afterId }) {
      return ctx.classes.listAfter(ctx.pool, afterId);
    },

    async classesWithQueued() {
      const rows = await ctx.rows<{ id: number }>(ctx.pool, CLASSES_WITH_QUEUED_SQL);
      return new Set(rows.map((r) => r.id));
    },
  };

  async function pausedNames(): Promise<Set<string>> {
    const rows = await ctx.rows<{ name: string }>(
      ctx.pool,
      'SELECT name FROM queues WHERE paused = 1',
    );
    return new Set(rows.map((r) => r.name));
  }
}
