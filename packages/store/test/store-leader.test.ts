import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPostgresStore, openSqliteStore, type Store } from '@offload/store';
import {
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  postgresTestEnv,
  queryTestDatabase,
} from '@offload/store/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';

const env = await postgresTestEnv();

describe('campaign on SQLite', () => {
  it('leads at once (one server per file), and steps down when stopped', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-leader-'));
    const store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
    try {
      const seen: boolean[] = [];
      const stop = store.campaign((leader) => seen.push(leader));
      await vi.waitFor(() => expect(seen).toEqual([true]));
      await stop();
      expect(seen).toEqual([true, false]);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Maintenance on one elected server: the leader is whoever holds the advisory lock. */
describeWithPostgres(env, 'campaign on PostgreSQL', () => {
  let schema: string;
  const stores: Store[] = [];

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await dropSchema(env.url, schema);
  });

  /** Three servers campaigning; `leading[i]` is what server i was last told. */
  const threeServers = async () => {
    schema = freshSchemaName();
    const leading = [false, false, false];
    const stops: Array<() => Promise<void>> = [];
    for (let i = 0; i < 3; i++) {
      const store = await openPostgresStore({
        url: env.url,
        schema,
        poolSize: 1,
        leaderIntervalMs: 50,
        applicationName: `offload-test-${schema}-${i}`,
      });
      stores.push(store);
      stops.push(store.campaign((leader) => (leading[i] = leader)));
    }
    await vi.waitFor(() => expect(leading.filter(Boolean)).toHaveLength(1), { timeout: 5_000 });
    return { leading, stops, leader: () => leading.indexOf(true) };
  };

  it('elects exactly one, and another takes over when the leader stops', async () => {
    const { leading, stops, leader } = await threeServers();
    const first = leader();
    // Several more rounds of trying change nothing.
    await new Promise((r) => setTimeout(r, 300));
    expect(leading.filter(Boolean)).toHaveLength(1);
    expect(leader()).toBe(first);

    await stops[first]!();
    expect(leading[first]).toBe(false);
    await vi.waitFor(() => expect(leading.filter(Boolean)).toHaveLength(1), { timeout: 5_000 });
    expect(leader()).not.toBe(first);
  });

  it('steps down when its session is killed, and leadership goes on', async () => {
    const { leading, leader } = await threeServers();
    const first = leader();
    const told: boolean[] = [];
    const watch = setInterval(() => told.push(leading[first]!), 5);
    try {
      const killed = await queryTestDatabase(
        env.url,
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [`offload-test-${schema}-${first}-leader`],
      );
      expect(killed.rowCount).toBe(1);
      // It learns it lost the lock; then whoever tries first — itself included, on a new
      // session — leads.
      await vi.waitFor(() => expect(told).toContain(false), { timeout: 5_000 });
      await vi.waitFor(() => expect(leading.filter(Boolean)).toHaveLength(1), { timeout: 5_000 });
    } finally {
      clearInterval(watch);
    }
  });
});
