import { jobClassKey, jobClassOf, type JobClass, type JobRecord } from '@offload/core';
import { ADVISORY_NAMESPACE } from './postgres-migrations.js';
import type { Queryable } from './postgres-context.js';

/** Second advisory-lock key: creating a class. */
const LOCK_CLASS_CREATE = 1;

function freezeClass(c: JobClass): JobClass {
  Object.freeze(c.requires.capabilities);
  Object.freeze(c.requires);
  return Object.freeze(c);
}

interface ClassRow {
  id: number;
  key: string;
  class_json: string;
}

/**
 * Requirement classes, cached in memory (key → id, id → class). Unlike SQLite, other
 * servers create classes too, so the cache is filled on demand — but a class never changes
 * or disappears once committed, so whatever is cached stays true. Only committed classes
 * enter the cache (a class created in a transaction that rolls back is forgotten).
 *
 * Class ids are handed out under a transaction-scoped advisory lock, so they commit in id
 * order: a dispatcher loading `classesList({ afterId })` incrementally can never see id 7
 * committed while id 6 is still to come and then skip 6 forever.
 */
export class PgClassRegistry {
  private readonly byKey = new Map<string, number>();
  private readonly byId = new Map<number, JobClass>();

  get(id: number): JobClass {
    const c = this.byId.get(id);
    if (c === undefined) throw new Error(`job class ${id} is missing from the store`);
    return c;
  }

  /** Loads the classes among `ids` that this process has not seen yet (one query, or none). */
  async ensure(q: Queryable, ids: Iterable<number>): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.byId.has(id));
    if (missing.length === 0) return;
    const { rows } = await q.query<ClassRow>(
      'SELECT id, key, class_json FROM job_classes WHERE id = ANY($1::bigint[])',
      [missing],
    );
    for (const r of rows) this.remember(r.id, r.key, JSON.parse(r.class_json) as JobClass);
  }

  /**
   * The class id of a job, creating the class when new; call inside the transaction that
   * inserts the job. `created` collects classes this transaction made: pass them to
   * `commit` once it has committed.
   */
  async idFor(
    q: Queryable,
    job: JobRecord,
    created: Map<string, { id: number; json: string }>,
  ): Promise<number> {
    const c = jobClassOf(job);
    const key = jobClassKey(c);
    const known = this.byKey.get(key) ?? created.get(key)?.id;
    if (known !== undefined) return known;
    const select = 'SELECT id, key, class_json FROM job_classes WHERE key = $1';
    let row = (await q.query<ClassRow>(select, [key])).rows[0];
    if (row === undefined) {
      await q.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [
        ADVISORY_NAMESPACE,
        LOCK_CLASS_CREATE,
      ]);
      const json = JSON.stringify(c);
      const inserted = await q.query<{ id: number }>(
        'INSERT INTO job_classes (key, class_json) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING id',
        [key, json],
      );
      const id = inserted.rows[0]?.id;
      if (id !== undefined) {
        created.set(key, { id, json });
        return id;
      }
      // Another server created it while we waited for the lock; it has committed.
      row = (await q.query<ClassRow>(select, [key])).rows[0];
      if (row === undefined) throw new Error(`job class ${key} vanished while being created`);
    }
    this.remember(row.id, row.key, JSON.parse(row.class_json) as JobClass);
    return row.id;
  }

  /** Makes classes created by a committed transaction known. */
  commit(created: Map<string, { id: number; json: string }>): void {
    for (const [key, { id, json }] of created) this.remember(id, key, JSON.parse(json) as JobClass);
  }

  /** Classes with id > afterId, from the database (other servers add classes too). */
  async listAfter(
    q: Queryable,
    afterId: number,
  ): Promise<Array<{ id: number; jobClass: JobClass }>> {
    const { rows } = await q.query<ClassRow>(
      'SELECT id, key, class_json FROM job_classes WHERE id > $1 ORDER BY id',
      [afterId],
    );
    return rows.map((r) => {
      this.remember(r.id, r.key, JSON.parse(r.class_json) as JobClass);
      return { id: r.id, jobClass: this.get(r.id) };
    });
  }

  private remember(id: number, key: string, c: JobClass): void {
    if (this.byId.has(id)) return;
    this.byKey.set(key, id);
    this.byId.set(id, freezeClass(c));
  }
}
