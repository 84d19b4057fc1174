import type { JobRecord } from '@offload/core';
import { fieldsForPatch, IMMUTABLE_COLUMNS, MUTABLE_FIELDS } from '../shared/job-rows.js';

export {
  JOB_COLUMNS,
  jobInsertParams,
  jsonOrNull,
  parseOrNull,
  rowToStoredJob,
  type JobRow,
  type StoredJob,
} from '../shared/job-rows.js';

export const INSERT_JOB_SQL =
  `INSERT INTO jobs (${IMMUTABLE_COLUMNS}, ${MUTABLE_FIELDS.map((f) => f[1]).join(', ')}) ` +
  `VALUES (${new Array(IMMUTABLE_COLUMNS.split(', ').length + MUTABLE_FIELDS.length).fill('?').join(', ')})`;

/** An UPDATE of exactly the columns a patch touches. */
export interface PatchUpdate {
  sql: string;
  params(job: JobRecord, seq: number): unknown[];
}

/**
 * The UPDATE for a patch with these keys. Writing only what the transition changed keeps
 * SQLite from rewriting index entries of untouched indexed columns (agent_name, run_at,
 * ...); core's transitions produce a handful of key sets, so callers cache by signature.
 */
export function patchUpdate(keys: readonly string[]): PatchUpdate {
  const fields = fieldsForPatch(keys);
  if (fields.length === 0) return { sql: '', params: () => [] };
  return {
    sql: `UPDATE jobs SET ${fields.map((f) => `${f[1]} = ?`).join(', ')} WHERE seq = ?`,
    params: (job, seq) => {
      const out = fields.map((f) => f[2](job));
      out.push(seq);
      return out;
    },
  };
}
