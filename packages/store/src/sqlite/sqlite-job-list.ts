import {
  buildListQuery as buildQuery,
  encodeCursor,
  type ListDialect,
} from '../shared/job-list.js';
import type { JobListParams, Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

const SQLITE: ListDialect = { param: () => '?', like: 'LIKE' };

/** The SQLite text of the list query for these filters (see shared/job-list.ts). */
export function buildListQuery(p: JobListParams): { sql: string; params: unknown[] } {
  return buildQuery(p, SQLITE);
}

export function createSqliteJobList(ctx: SqliteContext): Pick<Store, 'jobsList'> {
  return {
    async jobsList(p) {
      const limit = Math.max(1, Math.floor(p.limit));
      const { sql, params } = buildListQuery(p);
      // One extra row tells whether another page exists.
      const rows = ctx.loadAll(sql, ...params, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        jobs: page.map((s) => s.job),
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last.seq) : null,
      };
    },
  };
}
