import {
  buildListQuery as buildQuery,
  encodeCursor,
  type ListDialect,
} from '../shared/job-list.js';
import type { JobListParams, Store } from '../store.js';
import type { PgContext } from './postgres-context.js';

/** ILIKE: SQLite's LIKE ignores ASCII case, and `q` must find the same jobs on both. */
const POSTGRES: ListDialect = { param: (n) => `$${n}`, like: 'ILIKE' };

/** The PostgreSQL text of the list query for these filters (see shared/job-list.ts). */
export function buildListQuery(p: JobListParams): { sql: string; params: unknown[] } {
  return buildQuery(p, POSTGRES);
}

export function createPgJobList(ctx: PgContext): Pick<Store, 'jobsList'> {
  return {
    async jobsList(p) {
      const limit = Math.max(1, Math.floor(p.limit));
      const { sql, params } = buildListQuery(p);
      // One extra row tells whether another page exists.
      const rows = await ctx.jobs(ctx.pool, sql, [...params, limit + 1]);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        jobs: page.map((s) => s.job),
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.seq) : null,
      };
    },
  };
}
