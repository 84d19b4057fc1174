import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';
import { openPostgresStore, type PostgresStoreOptions } from '../postgres/postgres-store.js';
import type { Store } from '../store.js';

/** The variable naming the PostgreSQL that tests use. */
export const POSTGRES_URL_ENV = 'OFFLOAD_TEST_POSTGRES_URL';
/** Where this project's machines run it (trust auth, database `test`). */
export const DEFAULT_TEST_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface PostgresTestEnv {
  url: string;
  available: boolean;
  /** Why it is not available (the connection error), else null. */
  reason: string | null;
}

let probe: Promise<PostgresTestEnv> | undefined;

/** Whether the test PostgreSQL answers (probed once per test file, 3 s at most). */
export function postgresTestEnv(): Promise<PostgresTestEnv> {
  probe ??= (async () => {
    const url = process.env[POSTGRES_URL_ENV] || DEFAULT_TEST_POSTGRES_URL;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { url, available: true, reason: null };
    } catch (err) {
      return { url, available: false, reason: err instanceof Error ? err.message : String(err) };
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return probe;
}

/**
 * `describe` for tests that need PostgreSQL. Unreachable: on a laptop the block is skipped
 * with one line naming OFFLOAD_TEST_POSTGRES_URL; under CI=true it is a failing test, so a
 * CI run cannot pass by silently testing nothing.
 */
export function describeWithPostgres(env: PostgresTestEnv, name: string, fn: () => void): void {
  if (env.available) {
    describe(name, fn);
    return;
  }
  const why = `no PostgreSQL at ${env.url} (${env.reason ?? 'unreachable'}); set ${POSTGRES_URL_ENV} to one`;
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('reaches PostgreSQL (required when CI=true)', () => {
        throw new Error(why);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${why}`);
  describe.skip(name, fn);
}

/** A schema name no other test uses: offload_test_<random>. */
export function freshSchemaName(): string {
  return `offload_test_${randomBytes(6).toString('hex')}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  await queryTestDatabase(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * One statement on its own connection, for a test's setup or checks (so tests outside
 * this package need no driver of their own).
 */
export async function queryTestDatabase<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<{ rows: R[]; rowCount: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<R>(sql, params);
    return { rows: res.rows, rowCount: res.rowCount ?? 0 };
  } finally {
    await client.end();
  }
}

/** A fresh, empty PostgreSQL store in its own schema, and a cleanup that closes it and drops the schema. */
export async function openTestPostgresStore(
  env: PostgresTestEnv,
  options: Omit<PostgresStoreOptions, 'url' | 'schema'> = {},
): Promise<{ store: Store; schema: string; cleanup(): Promise<void> }> {
  const schema = freshSchemaName();
  const store = await openPostgresStore({
    ...options,
    url: env.url,
    schema,
    poolSize: options.poolSize ?? 4,
  });
  return {
    store,
    schema,
    async cleanup() {
      await store.close();
      await dropSchema(env.url, schema);
    },
  };
}
