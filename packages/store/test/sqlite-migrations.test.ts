import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '@offload/store';
import { claim, makeAgent, makeJob, submit, T0 } from '@offload/store/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../src/sqlite/sqlite-migrations.js';

describe('sqlite migrations and re-open', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-migrate-'));
    file = path.join(dir, 'offload.db');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const versions = () => {
    const db = new Database(file);
    try {
      return (
        db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{
          version: number;
        }>
      ).map((r) => r.version);
    } finally {
      db.close();
    }
  };

  it('applies every migration at open, once', async () => {
    await (await openSqliteStore({ path: file, now: () => T0 })).close();
    expect(versions()).toEqual(MIGRATIONS.map((m) => m.version));
    await (await openSqliteStore({ path: file })).close();
    expect(versions()).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('applies only new migrations, and rolls back one that fails', () => {
    const db = new Database(':memory:');
    expect(migrate(db, T0)).toEqual([1, 2, 3]);
    const extra = [
      ...MIGRATIONS,
      { version: 4, name: 'extra', sql: 'CREATE TABLE extra (x INTEGER)' },
    ];
    expect(migrate(db, T0, extra)).toEqual([4]);
    expect(migrate(db, T0, extra)).toEqual([]);
    const broken = [
      ...extra,
      { version: 5, name: 'broken', sql: 'CREATE TABLE ok3 (x); CREATE TABLE extra (x)' },
    ];
    expect(() => migrate(db, T0, broken)).toThrow(/already exists/);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'ok3'").get()).toEqual({
      n: 0,
    });
    expect(db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 4 });
    db.close();
  });

  it('refuses a file written by a newer offload', async () => {
    await (await openSqliteStore({ path: file })).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run(
      'future',
    );
    db.close();
    await expect(openSqliteStore({ path: file })).rejects.toThrow(/newer offload/);
  });

  it('keeps jobs, counts, classes, pause flags, agents and credentials across a re-open', async () => {
    const first = await openSqliteStore({ path: file });
    const queued = makeJob({ queue: 'a', tags: { t: '1' } });
    const running = makeJob({ queue: 'b' });
    const later = makeJob({ queue: 'a', delaySec: 5 });
    await submit(first, queued, running, later);
    const agent = makeAgent();
    await first.agentUpsert({ agent });
    await first.queueSetPaused({ name: 'a', paused: true });
    const classesB = (await first.classesList({ afterId: 0 })).filter(
      (c) => c.jobClass.queue === 'b',
    );
    await first.jobsClaim({
      agent,
      max: 1,
      classes: classesB.map((c) => ({ classId: c.id, queuedBefore: null })),
      now: T0 + 1,
    });
    const before = {
      jobs: await first.jobsList({ limit: 100 }),
      queues: await first.queuesList(),
      counts: await first.countsByState(),
      classes: await first.classesList({ afterId: 0 }),
      withQueued: await first.classesWithQueued(),
      paused: await first.pausedQueues(),
      agents: await first.agentsList({}),
    };
    await first.close();

    const second = await openSqliteStore({ path: file });
    expect(await second.jobsList({ limit: 100 })).toEqual(before.jobs);
    expect(await second.queuesList()).toEqual(before.queues);
    expect(await second.countsByState()).toEqual(before.counts);
    expect(await second.classesList({ afterId: 0 })).toEqual(before.classes);
    expect(await second.classesWithQueued()).toEqual(before.withQueued);
    expect(await second.pausedQueues()).toEqual(before.paused);
    expect(await second.agentsList({})).toEqual(before.agents);
    // The reloaded caches work: a claim after re-open finds the queued job of queue a.
    expect((await claim(second, agent, { now: T0 + 2 })).map((c) => c.job.id)).toEqual([queued.id]);
    // A new class after re-open gets a fresh id.
    await submit(second, makeJob({ queue: 'c' }));
    const ids = (await second.classesList({ afterId: 0 })).map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    await second.close();
  });
});
