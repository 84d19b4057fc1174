import {
  priorityFromRank,
  priorityRank,
  type JobClass,
  type JobPatch,
  type JobRecord,
} from '@offload/core';

/**
 * Where each column sits in a raw row. Both backends read job rows as arrays, not objects
 * (better-sqlite3's raw mode, node-postgres's rowMode 'array'): in SQLite ~3 µs instead of
 * ~6 µs per 35-column row, and a claim plus a completion read two rows per job. Both store
 * the same representation (epoch-ms integers, JSON as text, 0/1 flags), so this one mapping
 * serves both.
 */
const C = {
  seq: 0,
  id: 1,
  name: 2,
  kind: 3,
  queue: 4,
  class_id: 5,
  payload: 6,
  priority: 7,
  timeout_sec: 8,
  max_attempts: 9,
  backoff: 10,
  expire_at: 11,
  idempotency_key: 12,
  tags: 13,
  state: 14,
  attempt: 15,
  run_at: 16,
  queued_at: 17,
  lease_id: 18,
  agent_id: 19,
  agent_name: 20,
  gpus: 21,
  cancel_requested: 22,
  exit_code: 23,
  signal: 24,
  result: 25,
  error: 26,
  progress: 27,
  usage: 28,
  created_at: 29,
  started_at: 30,
  finished_at: 31,
  log_seq: 32,
  log_bytes: 33,
  log_truncated: 34,
} as const;

/** The jobs columns a record is read from, in the order of `C` (and of JobRow). */
export const JOB_COLUMNS = Object.keys(C).join(', ');

/** A raw jobs row: the values of JOB_COLUMNS, in order. */
export type JobRow = [
  seq: number,
  id: string,
  name: string,
  kind: JobRecord['kind'],
  queue: string,
  class_id: number,
  payload: string,
  priority: number,
  timeout_sec: number,
  max_attempts: number,
  backoff: string,
  expire_at: number | null,
  idempotency_key: string | null,
  tags: string,
  state: JobRecord['state'],
  attempt: number,
  run_at: number | null,
  queued_at: number | null,
  lease_id: string | null,
  agent_id: string | null,
  agent_name: string | null,
  gpus: string,
  cancel_requested: number,
  exit_code: number | null,
  signal: string | null,
  result: string | null,
  error: string | null,
  progress: string | null,
  usage: string | null,
  created_at: number,
  started_at: number | null,
  finished_at: number | null,
  log_seq: number,
  log_bytes: number,
  log_truncated: number,
];

/** The class id of a raw row (to load unknown classes before mapping the rows). */
export function rowClassId(row: JobRow): number {
  return row[C.class_id];
}

/** A job as loaded inside a transaction: the record plus the row facts the store needs. */
export interface StoredJob {
  seq: number;
  classId: number;
  payloadJson: string;
  job: JobRecord;
  log: { seq: number; bytes: number; truncated: boolean };
}

export function parseOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/**
 * Row → record. `requires` comes from the class cache: the class objects are frozen and
 * shared by every job of the class (no parse per row), so callers must not mutate them.
 */
export function rowToStoredJob(row: JobRow, classOf: (id: number) => JobClass): StoredJob {
  const c = classOf(row[C.class_id]);
  const result = row[C.result];
  const job: JobRecord = {
    id: row[C.id],
    name: row[C.name],
    kind: row[C.kind],
    queue: row[C.queue],
    payload: JSON.parse(row[C.payload]) as JobRecord['payload'],
    requires: c.requires,
    targetAgent: c.targetAgent,
    pool: c.pool,
    priority: priorityFromRank(row[C.priority]),
    timeoutSec: row[C.timeout_sec],
    maxAttempts: row[C.max_attempts],
    backoff: JSON.parse(row[C.backoff]) as JobRecord['backoff'],
    expireAt: row[C.expire_at],
    idempotencyKey: row[C.idempotency_key],
    tags: JSON.parse(row[C.tags]) as JobRecord['tags'],
    state: row[C.state],
    attempt: row[C.attempt],
    runAt: row[C.run_at],
    queuedAt: row[C.queued_at],
    leaseId: row[C.lease_id],
    agentId: row[C.agent_id],
    agentName: row[C.agent_name],
    gpus: JSON.parse(row[C.gpus]) as number[],
    cancelRequested: row[C.cancel_requested] !== 0,
    exitCode: row[C.exit_code],
    signal: row[C.signal],
    result: result === null ? undefined : JSON.parse(result),
    error: parseOrNull(row[C.error]),
    progress: parseOrNull(row[C.progress]),
    usage: parseOrNull(row[C.usage]),
    createdAt: row[C.created_at],
    startedAt: row[C.started_at],
    finishedAt: row[C.finished_at],
  };
  return {
    seq: row[C.seq],
    classId: row[C.class_id],
    payloadJson: row[C.payload],
    job,
    log: { seq: row[C.log_seq], bytes: row[C.log_bytes], truncated: row[C.log_truncated] !== 0 },
  };
}

/**
 * The columns a transition may change (JobPatch fields), each with how it is stored. Also
 * the tail of the INSERT. `deadline_at` is derived: the timeout backstop's due time, set
 * while running.
 */
export const MUTABLE_FIELDS: ReadonlyArray<
  readonly [keyof JobPatch | 'deadline', string, (j: JobRecord) => unknown]
> = [
  ['state', 'state', (j) => j.state],
  ['attempt', 'attempt', (j) => j.attempt],
  ['runAt', 'run_at', (j) => j.runAt],
  // A retry drops it (core retryJob), so it is written like the other transition fields.
  ['expireAt', 'expire_at', (j) => j.expireAt],
  ['queuedAt', 'queued_at', (j) => j.queuedAt],
  ['leaseId', 'lease_id', (j) => j.leaseId],
  ['agentId', 'agent_id', (j) => j.agentId],
  ['agentName', 'agent_name', (j) => j.agentName],
  ['gpus', 'gpus', (j) => JSON.stringify(j.gpus)],
  ['cancelRequested', 'cancel_requested', (j) => (j.cancelRequested ? 1 : 0)],
  ['exitCode', 'exit_code', (j) => j.exitCode],
  ['signal', 'signal', (j) => j.signal],
  ['result', 'result', (j) => (j.result === undefined ? null : JSON.stringify(j.result))],
  ['error', 'error', (j) => jsonOrNull(j.error)],
  ['progress', 'progress', (j) => jsonOrNull(j.progress)],
  ['usage', 'usage', (j) => jsonOrNull(j.usage)],
  ['startedAt', 'started_at', (j) => j.startedAt],
  ['finishedAt', 'finished_at', (j) => j.finishedAt],
  [
    'deadline',
    'deadline_at',
    (j) =>
      j.state === 'running' && j.startedAt !== null
        ? j.startedAt + Math.round(j.timeoutSec * 1000)
        : null,
  ],
];

/** A mutable column: the patch key it follows, its name, and its stored value from a record. */
export type MutableField = (typeof MUTABLE_FIELDS)[number];

/**
 * The columns a patch with these keys must write: its own fields, plus the derived
 * deadline_at whenever state or startedAt change.
 */
export function fieldsForPatch(keys: readonly string[]): MutableField[] {
  return MUTABLE_FIELDS.filter(
    ([k]) =>
      keys.includes(k) ||
      (k === 'deadline' && (keys.includes('state') || keys.includes('startedAt'))),
  );
}

export const IMMUTABLE_COLUMNS =
  'id, name, kind, queue, class_id, payload, priority, timeout_sec, max_attempts, backoff, idempotency_key, tags, created_at';

/** The values of IMMUTABLE_COLUMNS then MUTABLE_FIELDS for a new job of class `classId`. */
export function jobInsertParams(job: JobRecord, classId: number, payloadJson: string): unknown[] {
  return [
    job.id,
    job.name,
    job.kind,
    job.queue,
    classId,
    payloadJson,
    priorityRank(job.priority),
    job.timeoutSec,
    job.maxAttempts,
    JSON.stringify(job.backoff),
    job.idempotencyKey,
    JSON.stringify(job.tags),
    job.createdAt,
    ...MUTABLE_FIELDS.map((f) => f[2](job)),
  ];
}

/**
 * Jobs read by `id IN (...)` put in the order of the ids asked for (jobsGet's promise),
 * each once; ids not found are left out. Done here rather than by an ORDER BY, which
 * would add a sort to a statement that is otherwise only index lookups.
 */
export function inIdOrder(ids: readonly string[], jobs: readonly JobRecord[]): JobRecord[] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const out: JobRecord[] = [];
  for (const id of ids) {
    const job = byId.get(id);
    if (job === undefined) continue;
    out.push(job);
    byId.delete(id); // a repeated id: answered at its first place
  }
  return out;
}
