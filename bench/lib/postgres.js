import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';

/**
 * The PostgreSQL the bench uses: OFFLOAD_BENCH_POSTGRES_URL, else the one tests use
 * (OFFLOAD_TEST_POSTGRES_URL), else this project's machines' (trust auth, database `test`).
 * Every run works in schemas of its own (`bench_<random>`), dropped after each case.
 */
export const POSTGRES_URL =
  process.env.OFFLOAD_BENCH_POSTGRES_URL ||
  process.env.OFFLOAD_TEST_POSTGRES_URL ||
  'postgres://postgres@127.0.0.1:5432/test';

/**
 * Runs `fn` with one connection of its own.
 * @template T
 * @param {(c: pg.Client) => Promise<T>} fn
 * @param {string} [url]
 * @returns {Promise<T>}
 */
export async function withPostgres(fn, url = POSTGRES_URL) {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** @type {Promise<string | null> | undefined} */
let probe;

/**
 * Why PostgreSQL cannot be used (one line), or null when it answers. Probed once per run.
 * @returns {Promise<string | null>}
 */
export function postgresUnavailable() {
  probe ??= withPostgres((c) => c.query('SELECT 1')).then(
    () => null,
    (/** @type {Error} */ err) =>
      `no PostgreSQL at ${POSTGRES_URL} (${err.message || String(err)}); set OFFLOAD_BENCH_POSTGRES_URL`,
  );
  return probe;
}

/**
 * A schema name no one else uses.
 * @param {string} prefix
 */
export function freshSchema(prefix = 'bench') {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** @param {string} schema */
export async function dropSchema(schema) {
  await withPostgres((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/**
 * `POSTGRES_URL` with offload's own `schema` parameter (the server takes it out).
 * @param {string} schema
 */
export function offloadStoreUrl(schema) {
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/**
 * The postmaster's pid (from its data directory's postmaster.pid, readable when the bench
 * runs as root or as postgres), for its CPU time; null when it cannot be read.
 * @returns {Promise<number | null>}
 */
export async function postmasterPid() {
  try {
    const dir = await withPostgres(
      async (c) =>
        /** @type {string} */ ((await c.query('SHOW data_directory')).rows[0].data_directory),
    );
    const pid = Number(readFileSync(`${dir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
