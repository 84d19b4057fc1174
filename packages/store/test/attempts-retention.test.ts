import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore, type Store } from '@offload/store';
import {
  describeWithPostgres,
  makeAgent,
  openTestPostgresStore,
  postgresTestEnv,
  queryTestDatabase,
  report,
  startJob,
  T0,
} from '@offload/store/testing';
import { describe, expect, it } from 'vitest';

// Retention must take a job's attempt records with it; the Store interface cannot see
// rows of a job that is gone, so each backend counts them in its own tables.

/** Runs and finishes one job, returns its id. */
async function finishedJob(store: Store): Promise<string> {
  const job = await startJob(store, makeAgent());
  await report(store, job, { outcome: 'succeeded', exitCode: 0 }, T0 + 1);
  return job.id;
}

describe('sqlite: retention deletes attempts', () => {
  it('leaves no job_attempts row behind a purged job', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-attempts-'));
    const file = path.join(dir, 'offload.db');
    try {
      // The store holds the file's lock while open: count after closing it.
      const store = await openSqliteStore({ path: file });
      await finishedJob(store);
      await finishedJob(store);
      expect(await store.jobsPurgeFinished({ before: T0 + 2, limit: 1 })).toBe(1);
      await store.close();
      const db = new Database(file, { readonly: true });
      try {
        // One job purged, one kept: the kept one's attempt is still there, the other's is not.
        expect(db.prepare('SELECT COUNT(*) AS n FROM job_attempts').get()).toEqual({ n: 1 });
        expect(db.prepare('SELECT COUNT(*) AS n FROM jobs').get()).toEqual({ n: 1 });
        expect(
          db
            .prepare('SELECT COUNT(*) AS n FROM job_attempts a JOIN jobs j ON j.seq = a.job_seq')
            .get(),
        ).toEqual({ n: 1 });
      } finally {
        db.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const env = await postgresTestEnv();
describeWithPostgres(env, 'postgres: retention deletes attempts', () => {
  it('leaves no job_attempts row behind a purged job', async () => {
    const { store, schema, cleanup } = await openTestPostgresStore(env);
    try {
      await finishedJob(store);
      await finishedJob(store);
      const count = async () =>
        Number(
          (
            await queryTestDatabase<{ n: string }>(
              env.url,
              `SELECT COUNT(*) AS n FROM "${schema}".job_attempts`,
            )
          ).rows[0]?.n,
        );
      expect(await count()).toBe(2);
      expect(await store.jobsPurgeFinished({ before: T0 + 2, limit: 1 })).toBe(1);
      expect(await count()).toBe(1);
      expect(await store.jobsPurgeFinished({ before: T0 + 2, limit: 10 })).toBe(1);
      expect(await count()).toBe(0);
    } finally {
      await cleanup();
    }
  });
});
