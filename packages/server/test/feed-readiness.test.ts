import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { expect, it, vi } from 'vitest';
import {
  describeWithPostgres,
  freshSchemaName,
  postgresTestEnv,
  queryTestDatabase,
} from '@offload/store/testing';
import { loadServerConfig, startServer } from '@offload/server';

const env = await postgresTestEnv();

/**
 * A server whose change feed is not listening answers requests but misses the other
 * servers' wake-ups: /readyz says so, and is ready again once the feed listens.
 */
describeWithPostgres(env, '/readyz and the change feed', () => {
  it('is not ready while the feed cannot listen, and ready again once it does', async () => {
    // A role of its own, so the test can refuse its connections (a connection limit)
    // without touching anyone else's: the feed's, once killed, cannot come back.
    const schema = freshSchemaName();
    const role = `${schema}_role`;
    const q = (sql: string, params: unknown[] = []) => queryTestDatabase(env.url, sql, params);
    await q(`CREATE ROLE "${role}" LOGIN`);
    await q(`CREATE SCHEMA "${schema}" AUTHORIZATION "${role}"`);
    await q(`GRANT CREATE ON DATABASE "${new URL(env.url).pathname.slice(1)}" TO "${role}"`);
    const url = new URL(env.url);
    url.username = role;
    url.password = '';
    url.searchParams.set('schema', schema);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-feed-ready-'));
    const server = await startServer({
      config: loadServerConfig({
        env: {},
        flags: { dataDir: dir, port: '0', store: url.toString(), storePoolSize: '2' },
        cwd: dir,
      }),
      logger: pino({ level: 'silent' }),
      env: {},
    });
    const readyz = async () => {
      const res = await request(`${server.url}/readyz`);
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
    };
    const admin = { authorization: `Bearer ${server.admin.token}` };
    try {
      expect((await readyz()).status).toBe(200);

      // The pool at its full size first (2 connections), so that refusing new connections
      // refuses only the feed's.
      await Promise.all([1, 2, 3, 4].map(() => server.store.ping()));
      const { rows } = await q(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
        [role],
      );
      await q(`ALTER ROLE "${role}" CONNECTION LIMIT ${(rows[0]!.n as number) - 1}`);
      const killed = await q(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE usename = $1 AND application_name = 'offload-server-listen'`,
        [role],
      );
      expect(killed.rowCount).toBe(1);

      await vi.waitFor(
        async () => {
          const r = await readyz();
          expect(r.status).toBe(503);
          expect(r.body.error.code).toBe('NOT_READY');
          expect(r.body.error.message).toMatch(
            /change feed is not listening.*misses the other servers' wake-ups/,
          );
        },
        { timeout: 10_000, interval: 50 },
      );
      // The server itself still answers.
      const jobs = await request(`${server.url}/api/v1/jobs`, { headers: admin });
      expect(jobs.statusCode).toBe(200);
      await jobs.body.dump();

      await q(`ALTER ROLE "${role}" CONNECTION LIMIT -1`);
      // The feed retries with backoff (at most 5 s apart).
      await vi.waitFor(async () => expect((await readyz()).status).toBe(200), {
        timeout: 20_000,
        interval: 100,
      });
    } finally {
      await server.close();
      await q(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await q(`DROP OWNED BY "${role}"`);
      await q(`DROP ROLE IF EXISTS "${role}"`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
