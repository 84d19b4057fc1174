import type { JobState } from '@offload/protocol';
import { zeroCounts } from '../shared/counts.js';
import type { Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

type QueueMethods = Pick<
  Store,
  | 'queuesList'
  | 'queueSetPaused'
  | 'pausedQueues'
  | 'countsByState'
  | 'classesList'
  | 'classesWithQueued'
>;

/** Queue counts come from queue_counts (kept in the jobs' own transactions), classes from memory. */
export function createSqliteQueues(ctx: SqliteContext): QueueMethods {
  return {
    async queuesList() {
      const byQueue = new Map<
        string,
        { name: string; paused: boolean; counts: Record<JobState, number> }
      >();
      const entry = (name: string) => {
        let e = byQueue.get(name);
        if (e === undefined) {
          e = { name, paused: ctx.paused.has(name), counts: zeroCounts() };
          byQueue.set(name, e);
        }
        return e;
      };
      const rows = ctx
        .stmt('SELECT queue, state, n FROM queue_counts WHERE n > 0 ORDER BY queue')
        .all() as Array<{
        queue: string;
        state: JobState;
        n: number;
      }>;
      for (const r of rows) entry(r.queue).counts[r.state] = r.n;
      for (const name of ctx.paused) entry(name);
      return [...byQueue.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async queueSetPaused({ name, paused }) {
      if (paused)
        ctx
          .stmt(
            'INSERT INTO queues (name, paused) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET paused = 1',
          )
          .run(name);
      else ctx.stmt('DELETE FROM queues WHERE name = ?').run(name);
      if (paused) ctx.paused.add(name);
      else ctx.paused.delete(name);
    },

    async pausedQueues() {
      return new Set(ctx.paused);
    },

    async countsByState() {
      const counts = zeroCounts();
      for (const r of ctx
        .stmt('SELECT state, SUM(n) AS n FROM queue_counts GROUP BY state')
        .all() as Array<{ state: JobState; n: number }>) {
        counts[r.state] = r.n;
      }
      return counts;
    },

    async classesList({ afterId }) {
      return ctx.classes.listAfter(afterId);
    },

    async classesWithQueued() {
      return new Set(ctx.queuedByClass.keys());
    },
  };
}
