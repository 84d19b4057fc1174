import { applyPatch, type JobPatch, type JobRecord } from '@offload/core';
import { ApiError, type JobState } from '@offload/protocol';
import type {
  ClientBase,
  Pool,
  PoolClient,
  QueryArrayConfig,
  QueryConfig,
  QueryResultRow,
} from 'pg';
import {
  JOB_COLUMNS,
  rowClassId,
  rowToStoredJob,
  type JobRow,
  type StoredJob,
} from '../shared/job-rows.js';
import { ChangeSet, encodeChanges } from './postgres-changes.js';
import { PgClassRegistry } from './postgres-classes.js';
import { batchUpdateFor, batchUpdateParams, patchKeysMask } from './postgres-rows.js';
import { queryParams, sqlLiteral } from './postgres-text.js';

/** A pool or a client checked out of it: what query helpers run on. */
export type Queryable = Pool | ClientBase;

export const BY_ID_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`;
/** Locks jobs by id in seq order: every writer that waits on job rows takes them in that order, so batches cannot deadlock each other. */
export const LOCK_BY_IDS_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[]) ORDER BY seq FOR UPDATE`;

/** Shards of job_counts (see the migration): a transaction writes its deltas to one of them. */
const COUNT_SHARDS = 16;

const COUNTS_UPSERT_SQL =
  'INSERT INTO job_counts (queue, state, shard, n) ' +
  'SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::bigint[]) ' +
  'ON CONFLICT (queue, state, shard) DO UPDATE SET n = job_counts.n + excluded.n';

/** SQLSTATEs after which the whole transaction is simply run again. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_ATTEMPTS = 3;

/** The breaker's first pause after a connection failure, doubled on each failed try up to the last (ms). */
export const BREAKER_MIN_MS = 100;
export const BREAKER_MAX_MS = 5_000;
/**
 * How much longer than the statement timeout a statement may go unanswered before its
 * connection counts as dead: the database cancels a slow statement itself (57014) at the
 * statement timeout, so an answer that is later still means the network holds nothing.
 */
export const READ_TIMEOUT_MARGIN_MS = 2_000;

/**
 * What every PostgreSQL store module shares: the pool, the class cache, statement naming,
 * and the transaction helper. Hot statements are sent as named prepared statements (parsed
 * and planned once per connection); their SQL texts never depend on batch sizes because
 * batches travel as arrays.
 */
export class PgContext {
  readonly classes = new PgClassRegistry();
  /**
   * The pool as the store's modules use it: `query` and `connect` pass the breaker. (The
   * store's `ping()` uses the pool it was given, and so always tries.)
   */
  readonly pool: Pool;
  readonly breaker = new ConnectionBreaker();
  private readonly names = new Map<string, string>();

  /**
   * `onError` hears errors of connections that die while checked out between statements.
   * `notify`: where this store announces its commits (null: it does not).
   */
  constructor(
    private readonly raw: Pool,
    private readonly onError: (err: Error) => void,
    private readonly notify: { channel: string; origin: string } | null,
  ) {
    // A new connection is the best news there is: the database answers again (whoever
    // opened it — the readiness ping included), so calls need not wait out the pause.
    raw.on('connect', () => this.breaker.reset());
    const query = (...args: unknown[]): Promise<unknown> =>
      this.guarded(() => (raw.query as (...a: unknown[]) => Promise<unknown>)(...args));
    const connect = (): Promise<PoolClient> => this.guarded(() => raw.connect());
    this.pool = new Proxy(raw, {
      get(target, prop) {
        if (prop === 'query') return query;
        if (prop === 'connect') return connect;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  }

  /**
   * Runs one call to the database past the breaker: refused at once while it is open, else
   * run, and its outcome — reached the database or failed to — told to the breaker.
   */
  private async guarded<T>(call: () => Promise<T>): Promise<T> {
    const ticket = this.breaker.admit();
    try {
      const result = await call();
      this.breaker.succeeded(ticket);
      return result;
    } catch (err) {
      if (isConnectionFailure(err)) this.breaker.failed(ticket, err as Error);
      else this.breaker.succeeded(ticket); // the database answered, if only to refuse
      throw err;
    }
  }

  /**
   * The statement that ends a transaction: COMMIT, preceded — in the same round trip, as
   * one simple-protocol query — by the notification describing all it changed (one; a
   * few for a batch over 8,000 bytes). NOTIFY is delivered at commit and dropped on
   * rollback; per transaction, not per job, it keeps the database-wide notify lock taken
   * at commit out of the per-job cost.
   */
  commitSql(changes: ChangeSet): string {
    if (this.notify === null || changes.empty) return 'COMMIT';
    return `${this.notifySql(changes)}; COMMIT`;
  }

  /** Announces a change made outside a transaction (one statement already committed). */
  async notifyNow(changes: ChangeSet): Promise<void> {
    if (this.notify === null || changes.empty) return;
    await this.pool.query(this.notifySql(changes));
  }

  /** `SELECT pg_notify(channel, payload), ...` as literal SQL (for the simple protocol). */
  private notifySql(changes: ChangeSet): string {
    const { channel, origin } = this.notify!;
    const ch = sqlLiteral(channel);
    const calls = encodeChanges(origin, changes).map(
      (payload) => `pg_notify(${ch}, ${sqlLiteral(payload)})`,
    );
    return `SELECT ${calls.join(', ')}`;
  }

  /** A named query: prepared once per connection, then only bound and executed. */
  config(text: string, values: unknown[]): QueryConfig {
    return { name: this.nameOf(text), text, values: queryParams(values) };
  }

  /** The same, with rows as arrays. */
  arrayConfig(text: string, values: unknown[]): QueryArrayConfig {
    return { name: this.nameOf(text), text, values: queryParams(values), rowMode: 'array' };
  }

  private nameOf(text: string): string {
    let name = this.names.get(text);
    if (name === undefined) {
      name = `offload_${this.names.size + 1}`;
      this.names.set(text, name);
    }
    return name;
  }

  async rows<R extends QueryResultRow>(
    q: Queryable,
    sql: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    return (await q.query<R>(this.config(sql, values))).rows;
  }

  /** Jobs from one SELECT of JOB_COLUMNS (read as arrays), with their classes loaded. */
  async jobs(q: Queryable, sql: string, values: unknown[] = []): Promise<StoredJob[]> {
    const res = await q.query(this.arrayConfig(sql, values));
    const rows = res.rows as JobRow[];
    if (rows.length === 0) return [];
    await this.classes.ensure(q, rows.map(rowClassId));
    return rows.map((r) => rowToStoredJob(r, (id) => this.classes.get(id)));
  }

  async loadById(q: Queryable, id: string): Promise<StoredJob | null> {
    return (await this.jobs(q, BY_ID_SQL, [id]))[0] ?? null;
  }

  /**
   * Runs `fn` in one transaction on one pooled connection. The transaction's job writes
   * and count deltas are flushed as set-based statements just before COMMIT. Deadlocks and
   * serialization failures are retried (the whole function runs again: it must have no
   * effect outside the database before it returns).
   */
  tx<T>(fn: (t: PgTx) => Promise<T>): Promise<T> {
    return this.guarded(() => this.runTx(fn));
  }

  private async runTx<T>(fn: (t: PgTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.raw.connect();
      // The pool listens for errors only on idle connections: one that dies while checked
      // out, between two statements, would emit an unheard 'error' and crash the process.
      // The failure itself reaches us through the next statement.
      const onError = this.onError;
      client.on('error', onError);
      const t = new PgTx(this, client);
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(t);
        await t.flush();
        await client.query(this.commitSql(t.changes));
        this.classes.commit(t.createdClasses);
        return result;
      } catch (err) {
        // A connection that failed (or whose statement went unanswered: one is still in
        // flight on it) cannot take a ROLLBACK: the database rolls back when it goes.
        if (isConnectionFailure(err)) broken = true;
        else
          try {
            await client.query('ROLLBACK');
          } catch {
            broken = true; // the connection is gone: do not return it to the pool
          }
        if (attempt < MAX_ATTEMPTS && RETRYABLE.has(sqlState(err) ?? '')) continue;
        throw err;
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
    }
  }
}

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * node-postgres reports a dropped or unobtainable connection (and a pool used after close)
 * as a plain Error without a SQLSTATE. Such errors get the standard one — class 08,
 * connection exception — so that a caller can tell "the database cannot serve now" (the
 * server answers 503) from a bug, as it can for errors the database itself reports.
 */
export function withConnectionState(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof ApiError || sqlState(err) !== undefined) return err;
  if (
    !/timeout exceeded when trying to connect|connection terminated|connection error|not queryable|after calling end on the pool|query read timeout/i.test(
      err.message,
    )
  )
    return err;
  return Object.assign(
    new Error(`the PostgreSQL connection failed: ${err.message}`, { cause: err }),
    { code: '08006' },
  );
}

/**
 * Whether an error says the database could not be reached or stopped answering — as
 * opposed to the database refusing a statement. These open the breaker: refused or
 * unanswered connections, connections lost mid-call, statements unanswered past the read
 * timeout, a database that is starting or shutting down (57P03). A single connection
 * killed by an administrator (57P01) is not one: the database itself is fine.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof ApiError) return false;
  const code = sqlState(withConnectionState(err)) ?? '';
  return /^(08|57P03$|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)/.test(
    code,
  );
}

/**
 * Fails calls at once while the database is known to be unreachable, so that an outage
 * does not turn every request into a connection attempt (each failing at once when
 * refused, or after the connect timeout when nothing answers) — sparing the database a
 * storm of connections when it comes back. After a connection failure calls are refused
 * with 08006 for a pause of 100 ms, then one call tries; each failed try doubles the pause,
 * up to 5 s. A call that reaches the database, or any new connection of the pool (the
 * readiness ping always tries), closes the breaker.
 *
 * Failures of calls that started before the breaker last opened are counted once: ten
 * calls in flight when the network drops are one failure, not ten doublings. A ticket (the
 * generation at admission) tells them apart.
 */
export class ConnectionBreaker {
  private pauseMs = 0; // 0: closed
  private retryAt = 0;
  private generation = 0;
  private trying = false;
  private lastFailure = '';

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether calls are being refused or tried one at a time. */
  get open(): boolean {
    return this.pauseMs > 0;
  }

  /** Before a call: its ticket, or the unavailable error while the breaker holds calls back. */
  admit(): number {
    if (this.pauseMs > 0) {
      if (this.trying || this.now() < this.retryAt) throw this.unavailable();
      this.trying = true; // this call is the try
    }
    return this.generation;
  }

  /** The call reached the database. */
  succeeded(ticket: number): void {
    if (ticket === this.generation) this.reset();
  }

  /** The call could not reach the database. */
  failed(ticket: number, err: Error): void {
    if (ticket !== this.generation) return; // its outage has been counted
    this.generation++;
    this.trying = false;
    this.pauseMs = this.pauseMs === 0 ? BREAKER_MIN_MS : Math.min(this.pauseMs * 2, BREAKER_MAX_MS);
    this.retryAt = this.now() + this.pauseMs;
    this.lastFailure = err.message;
  }

  reset(): void {
    this.pauseMs = 0;
    this.trying = false;
  }

  private unavailable(): Error {
    const wait = this.trying
      ? 'a try is under way'
      : `next try in ${Math.max(0, this.retryAt - this.now())} ms`;
    return Object.assign(
      new Error(
        `the PostgreSQL database is unreachable (${this.lastFailure}); calls fail at once until it answers (${wait})`,
      ),
      { code: '08006' },
    );
  }
}

export function jobNotFound(id: string): ApiError {
  return new ApiError('JOB_NOT_FOUND', `no job ${id}`, { details: { jobId: id } });
}

/**
 * The writes of one transaction. Transitions (computed by core) are applied to the loaded
 * records at once and written at flush: one UPDATE per distinct set of touched columns
 * (a batch of completions is one statement), then one upsert of the count deltas.
 */
export class PgTx {
  readonly createdClasses = new Map<string, { id: number; json: string }>();
  /** What this transaction changed, announced with its COMMIT. */
  readonly changes = new ChangeSet();
  /** Jobs transitioned and not yet written, with the mask of the patch keys they touched. */
  private readonly pending = new Map<number, { stored: StoredJob; mask: number }>();
  private readonly countDeltas = new Map<string, number>();

  constructor(
    readonly ctx: PgContext,
    readonly client: PoolClient,
  ) {}

  rows<R extends QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return this.ctx.rows<R>(this.client, sql, values);
  }

  jobs(sql: string, values: unknown[] = []): Promise<StoredJob[]> {
    return this.ctx.jobs(this.client, sql, values);
  }

  /** Loads a job and locks its row for the rest of the transaction; JOB_NOT_FOUND if unknown. */
  async mustLock(id: string): Promise<StoredJob> {
    const s = (await this.jobs(LOCK_BY_IDS_SQL, [[id]]))[0];
    if (s === undefined) throw jobNotFound(id);
    return s;
  }

  /** Applies a transition's patch to a loaded (and locked) job; written at flush. */
  transition(stored: StoredJob, patch: JobPatch): JobRecord {
    const before = stored.job;
    const next = applyPatch(before, patch);
    let p = this.pending.get(stored.seq);
    if (p === undefined) {
      p = { stored, mask: 0 };
      this.pending.set(stored.seq, p);
    }
    p.mask |= patchKeysMask(patch);
    this.changes.job(next.id, before.state, next.state, stored.classId);
    if (next.state !== before.state) {
      this.count(before.queue, before.state, -1);
      this.count(next.queue, next.state, +1);
    }
    stored.job = next;
    return next;
  }

  /** A job inserted by this transaction: counted and announced. */
  created(job: JobRecord, classId: number): void {
    this.count(job.queue, job.state, +1);
    this.changes.job(job.id, null, job.state, classId);
  }

  count(queue: string, state: JobState, d: number): void {
    const key = `${queue}\u0000${state}`;
    this.countDeltas.set(key, (this.countDeltas.get(key) ?? 0) + d);
  }

  async flush(): Promise<void> {
    const groups = new Map<number, Array<{ seq: number; job: JobRecord }>>();
    this.pending.forEach(({ stored, mask }, seq) => {
      let g = groups.get(mask);
      if (g === undefined) groups.set(mask, (g = []));
      g.push({ seq, job: stored.job });
    });
    this.pending.clear();
    for (const [mask, jobs] of groups) {
      const u = batchUpdateFor(mask);
      if (u.fields.length === 0) continue;
      await this.client.query(this.ctx.config(u.sql, batchUpdateParams(u, jobs)));
    }
    await this.flushCounts();
  }

  /**
   * One upsert for every (queue, state) touched, however many jobs moved, in key order:
   * two transactions updating the same count rows lock them in the same order, and as
   * the last statement before COMMIT, they hold them for as short a time as possible.
   */
  private async flushCounts(): Promise<void> {
    const entries = [...this.countDeltas]
      .filter(([, d]) => d !== 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.countDeltas.clear();
    if (entries.length === 0) return;
    const shard = Math.floor(Math.random() * COUNT_SHARDS);
    const queues: string[] = [];
    const states: string[] = [];
    for (const [key] of entries) {
      const i = key.indexOf('\u0000');
      queues.push(key.slice(0, i));
      states.push(key.slice(i + 1));
    }
    await this.client.query(
      this.ctx.config(COUNTS_UPSERT_SQL, [
        queues,
        states,
        entries.map(() => shard),
        entries.map(([, d]) => d),
      ]),
    );
  }
}
