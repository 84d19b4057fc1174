import type { JobRecord } from '@offload/core';
import {
  fieldsForPatch,
  IMMUTABLE_COLUMNS,
  MUTABLE_FIELDS,
  type MutableField,
} from '../shared/job-rows.js';

/**
 * PostgreSQL types of the jobs columns that are written in batches. Batches are passed as
 * one array per column and expanded with unnest(), so one statement writes any number of
 * rows and the SQL text (and its prepared plan) does not depend on the batch size.
 */
const COLUMN_TYPES: Readonly<Record<string, string>> = {
  id: 'text',
  name: 'text',
  kind: 'text',
  queue: 'text',
  class_id: 'bigint',
  payload: 'text',
  priority: 'integer',
  timeout_sec: 'double precision',
  max_attempts: 'integer',
  backoff: 'text',
  expire_at: 'bigint',
  idempotency_key: 'text',
  tags: 'text',
  created_at: 'bigint',
  state: 'text',
  attempt: 'integer',
  run_at: 'bigint',
  queued_at: 'bigint',
  lease_id: 'text',
  agent_id: 'text',
  agent_name: 'text',
  gpus: 'text',
  cancel_requested: 'integer',
  exit_code: 'integer',
  signal: 'text',
  result: 'text',
  error: 'text',
  progress: 'text',
  usage: 'text',
  started_at: 'bigint',
  finished_at: 'bigint',
  deadline_at: 'bigint',
};

function typeOf(column: string): string {
  const t = COLUMN_TYPES[column];
  if (t === undefined) throw new Error(`no PostgreSQL type for jobs.${column}`);
  return t;
}

const INSERT_COLUMNS = [...IMMUTABLE_COLUMNS.split(', '), ...MUTABLE_FIELDS.map((f) => f[1])];

/**
 * Inserts a batch of jobs in input order (WITH ORDINALITY: seq, the FIFO tie-breaker,
 * follows it). A job whose idempotency key is taken — by a committed job, or by one being
 * inserted concurrently by another server, which this waits for — is skipped; RETURNING
 * says which were stored. Parameters: one array per column of INSERT_COLUMNS
 * (jobInsertParams transposed).
 */
export const INSERT_JOBS_SQL =
  `INSERT INTO jobs (${INSERT_COLUMNS.join(', ')}) ` +
  `SELECT ${INSERT_COLUMNS.map((c) => `u.${c}`).join(', ')} FROM unnest(` +
  INSERT_COLUMNS.map((c, i) => `$${i + 1}::${typeOf(c)}[]`).join(', ') +
  `) WITH ORDINALITY AS u(${INSERT_COLUMNS.join(', ')}, ord) ORDER BY u.ord ` +
  'ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id, seq';

/** One array per column from one row per job: unnest()'s parameters. */
export function columns(rows: readonly unknown[][], width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const row of rows) for (let i = 0; i < width; i++) out[i]!.push(row[i]);
  return out;
}

export const INSERT_WIDTH = INSERT_COLUMNS.length;

/** A set-based UPDATE of exactly the columns a patch signature touches, for many jobs. */
export interface BatchUpdate {
  sql: string;
  fields: MutableField[];
}

/**
 * UPDATE jobs FROM unnest(seq[], col1[], ...): every job of a batch whose transition
 * touched the same keys is written by one statement. Only the touched columns are written;
 * a HOT update is possible whenever none of them is indexed.
 */
export function batchUpdate(keys: readonly string[]): BatchUpdate {
  const fields = fieldsForPatch(keys);
  const names = fields.map((f) => f[1]);
  const sql =
    `UPDATE jobs AS j SET ${names.map((n) => `${n} = u.${n}`).join(', ')} ` +
    `FROM unnest($1::bigint[], ${names.map((n, i) => `$${i + 2}::${typeOf(n)}[]`).join(', ')}) ` +
    `AS u(seq, ${names.join(', ')}) WHERE j.seq = u.seq`;
  return { sql, fields };
}

/** Each patch key's bit, in MUTABLE_FIELDS order: the keys a job's transitions touched as one number. */
const PATCH_KEY_BITS = new Map<string, number>(MUTABLE_FIELDS.map(([k], i) => [k, 1 << i]));
if (MUTABLE_FIELDS.length > 31) throw new Error('patch key masks hold 31 fields: use two');

/**
 * The keys of `patch` as a mask of PATCH_KEY_BITS (keys that are no column count for none,
 * as in fieldsForPatch). A batch groups its jobs by it: as a string made of the sorted keys,
 * the signature was ~4 % of the server's allocations in the processing benchmark.
 */
export function patchKeysMask(patch: object): number {
  let mask = 0;
  for (const k in patch) mask |= PATCH_KEY_BITS.get(k) ?? 0;
  return mask;
}

const updatesByMask = new Map<number, BatchUpdate>();

/** The BatchUpdate of the keys in `mask` (patchKeysMask), made once per set of keys. */
export function batchUpdateFor(mask: number): BatchUpdate {
  let u = updatesByMask.get(mask);
  if (u === undefined) {
    u = batchUpdate(MUTABLE_FIELDS.filter((_, i) => mask & (1 << i)).map(([k]) => k));
    updatesByMask.set(mask, u);
  }
  return u;
}

/** The parameters of a BatchUpdate for these jobs. */
export function batchUpdateParams(
  u: BatchUpdate,
  jobs: ReadonlyArray<{ seq: number; job: JobRecord }>,
): unknown[][] {
  return [jobs.map((j) => j.seq), ...u.fields.map((f) => jobs.map((j) => f[2](j.job)))];
}
