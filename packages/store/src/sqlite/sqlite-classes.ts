import { jobClassKey, jobClassOf, type JobClass, type JobRecord } from '@offload/core';
import type { Database, Statement } from 'better-sqlite3';

function freezeClass(c: JobClass): JobClass {
  Object.freeze(c.requires.capabilities);
  Object.freeze(c.requires);
  return Object.freeze(c);
}

/**
 * Requirement classes, cached in memory (key → id, id → class) and loaded whole at open:
 * classes are few (distinct requirement shapes) and never change or disappear. The lock
 * makes this process the only writer, so the cache is the truth.
 */
export class ClassRegistry {
  private readonly byKey = new Map<string, number>();
  private readonly byId = new Map<number, JobClass>();
  /** Ascending ids, for classesList({ afterId }). */
  private readonly ordered: Array<{ id: number; jobClass: JobClass }> = [];
  private readonly insert: Statement;

  constructor(db: Database) {
    this.insert = db.prepare('INSERT INTO job_classes (key, class_json) VALUES (?, ?)');
    const rows = db
      .prepare('SELECT id, key, class_json FROM job_classes ORDER BY id')
      .all() as Array<{
      id: number;
      key: string;
      class_json: string;
    }>;
    for (const r of rows) this.remember(r.id, r.key, JSON.parse(r.class_json) as JobClass);
  }

  get(id: number): JobClass {
    const c = this.byId.get(id);
    if (c === undefined) throw new Error(`job class ${id} is missing from the store`);
    return c;
  }

  /** The id of the job's class if the store knows it (creates nothing). */
  idOf(job: JobRecord): number | undefined {
    return this.byKey.get(jobClassKey(jobClassOf(job)));
  }

  /**
   * The class id of a job, creating the class when new. Call inside a transaction; the
   * returned undo removes a class created here if that transaction rolls back.
   */
  idFor(job: JobRecord): { id: number; undo: (() => void) | null } {
    const c = jobClassOf(job);
    const key = jobClassKey(c);
    const known = this.byKey.get(key);
    if (known !== undefined) return { id: known, undo: null };
    // A private copy: the caller's record must not alias the shared, frozen class.
    const json = JSON.stringify(c);
    const id = Number(this.insert.run(key, json).lastInsertRowid);
    this.remember(id, key, JSON.parse(json) as JobClass);
    return { id, undo: () => this.forget(id, key) };
  }

  listAfter(afterId: number): Array<{ id: number; jobClass: JobClass }> {
    // Ids ascend; classes are few, a linear filter is fine.
    return this.ordered
      .filter((c) => c.id > afterId)
      .map((c) => ({ id: c.id, jobClass: c.jobClass }));
  }

  private remember(id: number, key: string, c: JobClass): void {
    const frozen = freezeClass(c);
    this.byKey.set(key, id);
    this.byId.set(id, frozen);
    this.ordered.push({ id, jobClass: frozen });
  }

  private forget(id: number, key: string): void {
    this.byKey.delete(key);
    this.byId.delete(id);
    const i = this.ordered.findIndex((c) => c.id === id);
    if (i >= 0) this.ordered.splice(i, 1);
  }
}
