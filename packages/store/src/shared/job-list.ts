import { invalidField } from '@offload/protocol';
import type { JobListParams } from '../store.js';
import { JOB_COLUMNS } from './job-rows.js';

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

/** What differs between the backends' list SQL. */
export interface ListDialect {
  /** The n-th (1-based) parameter placeholder: `?` or `$n`. */
  param(n: number): string;
  /**
   * The case-insensitive substring operator: SQLite's LIKE already ignores ASCII case;
   * PostgreSQL needs ILIKE to match it.
   */
  like: 'LIKE' | 'ILIKE';
}

/**
 * Builds the list query for one combination of filters (so few distinct SQL texts, each
 * prepared once). Newest first by seq. A tag filter drives from job_tags(key, value, job_seq)
 * — itself in seq order — and otherwise (state, seq), (queue, seq) or (agent_name, seq)
 * serve the filter and the order together; the planner picks among them. The last
 * parameter is the LIMIT, left to the caller.
 */
export function buildListQuery(
  p: JobListParams,
  dialect: ListDialect,
): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const next = (value: unknown): string => {
    params.push(value);
    return dialect.param(params.length);
  };
  let from = 'jobs j';
  if (p.tag !== undefined) {
    from = 'job_tags t JOIN jobs j ON j.seq = t.job_seq';
    where.push(`t.key = ${next(p.tag.key)}`, `t.value = ${next(p.tag.value)}`);
  }
  if (p.state !== undefined) where.push(`j.state = ${next(p.state)}`);
  if (p.queue !== undefined) where.push(`j.queue = ${next(p.queue)}`);
  if (p.agentName !== undefined) where.push(`j.agent_name = ${next(p.agentName)}`);
  if (p.q !== undefined && p.q !== '')
    where.push(`j.name ${dialect.like} ${next(`%${escapeLike(p.q)}%`)} ESCAPE '\\'`);
  const seqCol = p.tag !== undefined ? 't.job_seq' : 'j.seq';
  if (p.cursor !== undefined) where.push(`${seqCol} < ${next(decodeCursor(p.cursor))}`);
  const sql =
    `SELECT ${JOB_COLUMNS_J} FROM ${from}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${seqCol} DESC LIMIT ${dialect.param(params.length + 1)}`;
  return { sql, params };
}
