import { openPostgresStore, type Store } from '@offload/store';
import {
  classesFor,
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  makeAgent,
  makeJob,
  postgresTestEnv,
  submit,
  T0,
} from '@offload/store/testing';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../src/postgres/postgres-migrations.js';

const env = await postgresTestEnv();

/**
 * What only a shared database can get wrong: several stores (one per server) on one schema
 * at once. Each test has its own schema.
 */
describeWithPostgres(env, 'postgres store: several servers on one database', () => {
  let schema = '';
  const opened: Store[] = [];
  const open = async (
    extra: { applicationName?: string; onError?: (e: Error) => void } = {},
  ): Promise<Store> => {
    const store = await openPostgresStore({ url: env.url, schema, poolSize: 4, ...extra });
    opened.push(store);
    return store;
  };
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: env.url, options: `-c search_path=${schema}` });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await dropSchema(env.url, schema);
  });

  it('migrates once when several servers open a new schema at the same moment', async () => {
    schema = freshSchemaName();
    const stores = await Promise.all([open(), open(), open(), open()]);
    expect(stores.every((s) => s.capabilities.multiServer)).toBe(true);
    const rows = await admin((c) => c.query('SELECT version FROM schema_migrations'));
    expect(rows.rows.map((r: { version: number }) => r.version)).toEqual(
      PG_MIGRATIONS.map((m) => m.version),
    );
  });

  it('refuses a schema written by a newer offload', async () => {
    schema = freshSchemaName();
    await (await open()).close();
    await admin((c) =>
      c.query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
      ),
    );
    await expect(openPostgresStore({ url: env.url, schema })).rejects.toThrow(
      /version 999 .* newer offload/,
    );
  });

  it('does not over-commit one agent claiming through two servers at once', async () => {
    schema = freshSchemaName();
    const [a, b] = [await open(), await open()];
    await submit(a, ...Array.from({ length: 20 }, () => makeJob({ requires: { cpu: 1 } })));
    const agent = makeAgent({ resources: { cpu: 4, memoryMb: 10_000, gpus: [] } });
    const classes = await classesFor(b, agent);
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? a : b).jobsClaim({ agent, max: 10, classes, now: T0 }),
      ),
    );
    expect(claims.flat()).toHaveLength(4);
    expect(await a.jobsRunningOnAgent({ agentId: agent.id })).toHaveLength(4);
    expect((await b.countsByState()).running).toBe(4);
  });

  it('hands every job to exactly one of many agents claiming through three servers', async () => {
    schema = freshSchemaName();
    const servers = [await open(), await open(), await open()];
    // Two classes, so claims take the peek-then-lock path as well as the one-range one.
    const jobs = Array.from({ length: 600 }, (_, i) =>
      makeJob({
        priority: i % 2 === 0 ? 'high' : 'normal',
        requires: { cpu: i % 3 === 0 ? 0.5 : 1 },
      }),
    );
    await submit(servers[0]!, ...jobs);
    const agents = Array.from({ length: 12 }, () =>
      makeAgent({ maxJobs: 1_000, resources: { cpu: 1_000, memoryMb: 100_000, gpus: [] } }),
    );
    const classes = await classesFor(servers[1]!, agents[0]!);
    expect(classes).toHaveLength(2);
    const got = new Map<string, string>();
    await Promise.all(
      agents.map(async (agent, i) => {
        const server = servers[i % 3]!;
        // An agent in a crowd may come back empty-handed while jobs remain: ask again
        // until none is queued, as the dispatcher's long poll would.
        while ((await server.countsByState()).queued > 0) {
          const claimed = await server.jobsClaim({
            agent,
            max: 1 + (i % 2) * 24,
            classes: i % 4 === 0 ? [classes[1]!] : classes,
            now: T0,
          });
          for (const c of claimed) {
            expect(got.get(c.job.id)).toBeUndefined();
            got.set(c.job.id, agent.id);
          }
        }
      }),
    );
    expect(got.size).toBe(600);
    expect((await servers[2]!.countsByState()).running).toBe(600);
  });

  it('creates a new class and honours an idempotency key once across servers racing', async () => {
    schema = freshSchemaName();
    const [a, b] = [await open(), await open()];
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? a : b).jobsSubmit({
          jobs: [
            makeJob({ requires: { cpu: 3 }, idempotencyKey: 'once' }),
            makeJob({ requires: { cpu: 3 } }),
          ],
        }),
      ),
    );
    const keyed = results.map((r) => r[0]!);
    expect(keyed.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(keyed.map((r) => r.job.id)).size).toBe(1);
    expect(await a.classesList({ afterId: 0 })).toHaveLength(1);
    expect((await b.countsByState()).queued).toBe(7);
  });

  it('survives its connections being killed: the next call reconnects', async () => {
    schema = freshSchemaName();
    const errors: Error[] = [];
    const name = `offload-test-${schema}`;
    const store = await open({ applicationName: name, onError: (e) => errors.push(e) });
    await submit(store, makeJob());
    await store.ping();
    const killed = await admin((c) =>
      c.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [name],
      ),
    );
    expect(killed.rowCount).toBeGreaterThan(0);
    // The pool drops the dead idle connections (reporting them) and opens new ones.
    await expect.poll(() => errors.length).toBeGreaterThan(0);
    await store.ping();
    expect((await store.countsByState()).queued).toBe(1);
  });

  it('fails with a connection SQLSTATE (class 08) when it cannot reach the database', async () => {
    schema = freshSchemaName();
    const store = await open();
    await store.close();
    // What the server answers 503 to: "the store is unavailable", not an internal error.
    await expect(store.ping()).rejects.toMatchObject({ code: '08006' });
    await expect(store.jobGet({ id: 'x' })).rejects.toMatchObject({ code: '08006' });
  });
});
