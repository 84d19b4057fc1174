import type { Database } from 'better-sqlite3';
import { migration001 } from './migrations/001-initial.js';
import { migration002 } from './migrations/002-job-attempts.js';
import { migration003 } from './migrations/003-finished-index.js';

/** One numbered schema change. Never edit a released one: add the next number. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [migration001, migration002, migration003];

/**
 * Applies the migrations the file has not seen, in order, in one IMMEDIATE transaction
 * (which is also what takes the exclusive write lock at open). A file written by a newer
 * offload is refused rather than misread. Returns the versions applied.
 */
export function migrate(
  db: Database,
  now: number,
  migrations: readonly Migration[] = MIGRATIONS,
): number[] {
  const run = db.transaction((): number[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
      v: number | null;
    };
    const current = row.v ?? 0;
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new Error(
        `the store's schema is version ${current} but this offload knows only up to ${latest}: it was written by a newer offload; upgrade this one`,
      );
    }
    const applied: number[] = [];
    const insert = db.prepare(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      insert.run(m.version, m.name, now);
      applied.push(m.version);
    }
    return applied;
  });
  return run.immediate();
}
