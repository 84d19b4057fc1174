import { applyPatch, type JobPatch, type JobRecord } from '@offload/core';
import { ApiError, type JobState } from '@offload/protocol';
import type { Database, Statement } from 'better-sqlite3';
import { ATTEMPT_COLUMNS, attemptRow, EndedAttempts } from '../shared/attempt-rows.js';
import { ClassRegistry } from './sqlite-classes.js';
import {
  INSERT_JOB_SQL,
  JOB_COLUMNS,
  jobInsertParams,
  patchUpdate,
  rowToStoredJob,
  type JobRow,
  type PatchUpdate,
  type StoredJob,
} from './sqlite-rows.js';

const BY_ID_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`;
const BY_SEQ_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE seq = ?`;
/**
 * One ended attempt. SQLite runs in-process, so a statement is not a round trip and the
 * commit is shared: a cached prepared INSERT per row inside the batch's transaction cost
 * 1.4 µs a row (batches of 500 into job_attempts), multi-row VALUES of 100 rows 1.9–3.2 µs,
 * and one statement over a JSON array (json_each, `value ->> i`) 11–15 µs — parsing the
 * JSON costs more than the statements it saves.
 */
const INSERT_ATTEMPT_SQL = `INSERT INTO job_attempts (job_seq, ${ATTEMPT_COLUMNS}) VALUES (${Array(12).fill('?').join(', ')})`;

/**
 * What every SQLite store module shares: the connection, cached prepared statements, the
 * in-memory caches (classes, queued count per class, paused queues) and the transaction
 * helper that keeps those caches consistent with what commits. The file lock makes this
 * process the only writer, which is what lets the caches be authoritative.
 */
export class SqliteContext {
  readonly classes: ClassRegistry;
  /** Queued jobs per class id (only classes with > 0). Drives classesWithQueued and skips empty classes in claims. */
  readonly queuedByClass = new Map<number, number>();
  readonly paused = new Set<string>();
  private readonly statements = new Map<string, Statement>();
  private readonly rawStatements = new Map<string, Statement>();
  private readonly updates = new Map<string, { update: PatchUpdate; stmt: Statement | null }>();
  private readonly runInTx: (fn: () => unknown) => unknown;

  /** @param committed called after each transaction of tx() commits (the WAL flusher). */
  constructor(
    readonly db: Database,
    private readonly committed: () => void = () => undefined,
  ) {
    this.classes = new ClassRegistry(db);
    // One grouped read over the partial claim index, at open only.
    for (const r of this.stmt(
      "SELECT class_id AS c, COUNT(*) AS n FROM jobs WHERE state = 'queued' GROUP BY class_id",
    ).all() as Array<{
      c: number;
      n: number;
    }>) {
      this.queuedByClass.set(r.c, r.n);
    }
    for (const r of this.stmt('SELECT name FROM queues WHERE paused = 1').all() as Array<{
      name: string;
    }>)
      this.paused.add(r.name);
    this.runInTx = db.transaction((fn: () => unknown) => fn());
  }

  /** A prepared statement returning raw rows (arrays), for SELECTs of JOB_COLUMNS. */
  rowsStmt(sql: string): Statement {
    let s = this.rawStatements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql).raw(true);
      this.rawStatements.set(sql, s);
    }
    return s;
  }

  /** A prepared statement, prepared once per SQL text. */
  stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * Runs `fn` in one transaction. Count changes are written before commit; the in-memory
   * caches change only once the transaction has committed (or are undone if it throws).
   */
  tx<T>(fn: (w: TxWriter) => T): T {
    const w = new TxWriter(this);
    try {
      const result = this.runInTx(() => {
        const r = fn(w);
        w.flushAttempts();
        w.flushCounts();
        return r;
      }) as T;
      w.commitMemory();
      this.committed();
      return result;
    } catch (err) {
      w.rollbackMemory();
      throw err;
    }
  }

  loadById(id: string): StoredJob | null {
    const row = this.rowsStmt(BY_ID_SQL).get(id) as JobRow | undefined;
    return row === undefined ? null : this.toStored(row);
  }

  loadBySeq(seq: number): StoredJob | null {
    const row = this.rowsStmt(BY_SEQ_SQL).get(seq) as JobRow | undefined;
    return row === undefined ? null : this.toStored(row);
  }

  /** Writes the columns `patch` touches, with their values from `job` (the record after it). */
  writePatch(seq: number, patch: JobPatch, job: JobRecord): void {
    const signature = Object.keys(patch).join(',');
    let u = this.updates.get(signature);
    if (u === undefined) {
      const update = patchUpdate(Object.keys(patch));
      u = { update, stmt: update.sql === '' ? null : this.db.prepare(update.sql) };
      this.updates.set(signature, u);
    }
    u.stmt?.run(...u.update.params(job, seq));
  }

  mustLoad(id: string): StoredJob {
    const s = this.loadById(id);
    if (s === null) throw new ApiError('JOB_NOT_FOUND', `no job ${id}`, { details: { jobId: id } });
    return s;
  }

  toStored(row: JobRow): StoredJob {
    return rowToStoredJob(row, (id) => this.classes.get(id));
  }

  /** Many rows from one SELECT of JOB_COLUMNS. */
  loadAll(sql: string, ...params: unknown[]): StoredJob[] {
    return (this.rowsStmt(sql).all(...params) as JobRow[]).map((r) => this.toStored(r));
  }
}

/** The writes of one transaction, and the bookkeeping that rides along with them. */
export class TxWriter {
  /**
   * Count changes by queue, then state. Keyed by the two values rather than a string built
   * from them: the key was a new string on each of the two counts of every transition.
   * A small gain, near the noise: claim + complete 35.6–36.4 → 34.6–36.0 µs a job (store
   * micro-benchmark, 3 runs each, 50 per call).
   */
  private readonly countDeltas = new Map<string, Map<JobState, number>>();
  private readonly queuedDeltas = new Map<number, number>();
  private readonly undo: Array<() => void> = [];
  private readonly ended = new EndedAttempts();

  constructor(readonly ctx: SqliteContext) {}

  /** Inserts a new job (with its tags) and counts it. */
  insertJob(job: JobRecord): StoredJob {
    const cls = this.ctx.classes.idFor(job);
    if (cls.undo !== null) this.undo.push(cls.undo);
    // Kept as given: a claim hands this text to the agent without parse or stringify.
    const payloadJson = JSON.stringify(job.payload);
    const info = this.ctx.stmt(INSERT_JOB_SQL).run(...jobInsertParams(job, cls.id, payloadJson));
    const seq = Number(info.lastInsertRowid);
    const tagInsert = this.ctx.stmt('INSERT INTO job_tags (key, value, job_seq) VALUES (?, ?, ?)');
    for (const [k, v] of Object.entries(job.tags)) tagInsert.run(k, v, seq);
    this.count(job.queue, job.state, cls.id, +1);
    return { seq, classId: cls.id, payloadJson, job, log: { seq: 0, bytes: 0, truncated: false } };
  }

  /** Applies a transition's patch (computed by core) to a loaded job: one UPDATE plus counts. */
  transition(stored: StoredJob, patch: JobPatch): JobRecord {
    const before = stored.job;
    const next = applyPatch(before, patch);
    this.ctx.writePatch(stored.seq, patch, next);
    if (next.state !== before.state) {
      this.count(before.queue, before.state, stored.classId, -1);
      this.count(next.queue, next.state, stored.classId, +1);
    }
    stored.job = next;
    return next;
  }

  /**
   * A transition that may end the running attempt (completion, reaping, revoke, timeout):
   * the attempt's record is written with the others at the end of the transaction.
   */
  endAttempt(stored: StoredJob, patch: JobPatch, now: number): JobRecord {
    return this.ended.transition(stored, patch, now, (s, p) => this.transition(s, p));
  }

  /** Writes the attempts this transaction ended, before it commits. */
  flushAttempts(): void {
    const rows = this.ended.rows;
    if (rows.length === 0) return;
    const insert = this.ctx.stmt(INSERT_ATTEMPT_SQL);
    for (const r of rows) insert.run(r.jobSeq, ...attemptRow(r.attempt));
    rows.length = 0;
  }

  /** Deletes a job with its tags, logs and attempts (retention). */
  deleteJob(stored: StoredJob): void {
    const { job, seq } = stored;
    const tagDelete = this.ctx.stmt(
      'DELETE FROM job_tags WHERE key = ? AND value = ? AND job_seq = ?',
    );
    for (const [k, v] of Object.entries(job.tags)) tagDelete.run(k, v, seq);
    this.ctx.stmt('DELETE FROM job_logs WHERE job_seq = ?').run(seq);
    this.ctx.stmt('DELETE FROM job_attempts WHERE job_seq = ?').run(seq);
    this.ctx.stmt('DELETE FROM jobs WHERE seq = ?').run(seq);
    this.count(job.queue, job.state, stored.classId, -1);
  }

  private count(queue: string, state: JobState, classId: number, d: number): void {
    let byState = this.countDeltas.get(queue);
    if (byState === undefined) {
      byState = new Map();
      this.countDeltas.set(queue, byState);
    }
    byState.set(state, (byState.get(state) ?? 0) + d);
    if (state === 'queued')
      this.queuedDeltas.set(classId, (this.queuedDeltas.get(classId) ?? 0) + d);
  }

  /** One upsert per (queue, state) touched, however many jobs moved. */
  flushCounts(): void {
    const upsert = this.ctx.stmt(
      'INSERT INTO queue_counts (queue, state, n) VALUES (?, ?, ?) ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n',
    );
    for (const [queue, byState] of this.countDeltas)
      for (const [state, d] of byState) if (d !== 0) upsert.run(queue, state, d);
  }

  commitMemory(): void {
    const q = this.ctx.queuedByClass;
    for (const [classId, d] of this.queuedDeltas) {
      const n = (q.get(classId) ?? 0) + d;
      if (n > 0) q.set(classId, n);
      else q.delete(classId);
    }
  }

  rollbackMemory(): void {
    for (const fn of this.undo.reverse()) fn();
  }
}
