import { invalidField } from '@offload/protocol';
import type { JobListParams, Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';
import { JOB_COLUMNS } from './sqlite-rows.js';

/** The cursor is the last seq of the page, base64url: opaque to callers, an index seek for us. */
export function encodeCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!/^[1-9][0-9]{0,15}$/.test(text))
    throw invalidField('cursor', 'is not a cursor from a previous page of this list');
  return Number(text);
}

function escapeLike(q: string): string {
  return q.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const JOB_COLUMNS_J = JOB_COLUMNS.split(', ')
  .map((c) => `j.${c}`)
  .join(', ');

/**
 * Builds the list query for one combination of filters (so few distinct SQL texts, each
 * prepared once). Newest first by seq. A tag filter drives from job_tags(key, value, job_seq)
 * — itself in seq order — and otherwise (state, seq), (queue, seq) or (agent_name, seq)
 * serve the filter and the order together; the planner picks among them.
 */
export function buildListQuery(p: JobListParams): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  let from = 'jobs j';
  if (p.tag !== undefined) {
    from = 'job_tags t JOIN jobs j ON j.seq = t.job_seq';
    where.push('t.key = ?', 't.value = ?');
    params.push(p.tag.key, p.tag.value);
  }
  if (p.state !== undefined) {
    where.push('j.state = ?');
    params.push(p.state);
  }
  if (p.queue !== undefined) {
    where.push('j.queue = ?');
    params.push(p.queue);
  }
  if (p.agentName !== undefined) {
    where.push('j.agent_name = ?');
    params.push(p.agentName);
  }
  if (p.q !== undefined && p.q !== '') {
    where.push("j.name LIKE ? ESCAPE '\\'");
    params.push(`%${escapeLike(p.q)}%`);
  }
  const seqCol = p.tag !== undefined ? 't.job_seq' : 'j.seq';
  if (p.cursor !== undefined) {
    where.push(`${seqCol} < ?`);
    params.push(decodeCursor(p.cursor));
  }
  const sql =
    `SELECT ${JOB_COLUMNS_J} FROM ${from}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${seqCol} DESC LIMIT ?`;
  return { sql, params };
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
