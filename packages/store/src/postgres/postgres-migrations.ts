import type { PoolClient } from 'pg';
import { pgMigration001 } from './migrations/001-initial.js';
import { pgMigration002 } from './migrations/002-job-attempts.js';

/** One numbered schema change. Never edit a released one: add the next number. */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [pgMigration001, pgMigration002];

/**
 * First key of every advisory lock this store takes ('offl'), so its locks cannot be
 * mistaken for another application's in the same database. The second key says what is
 * locked (LOCK_* below, or a hash of a name).
 */
export const ADVISORY_NAMESPACE = 0x6f66666c;

/**
 * Applies the migrations the schema has not seen, in order, in one transaction (DDL is
 * transactional in PostgreSQL: a failed migration leaves nothing behind). Several servers
 * starting at once on one database serialise on a transaction-scoped advisory lock keyed
 * by the schema name, taken before anything else — including CREATE SCHEMA IF NOT EXISTS,
 * which races with itself — so exactly one applies each migration and the others then see
 * it done. A schema written by a newer offload is refused rather than misread. Returns the
 * versions applied.
 */
export async function migratePg(
  client: PoolClient,
  schema: string,
  now: number,
  migrations: readonly PgMigration[] = PG_MIGRATIONS,
): Promise<number[]> {
  const quoted = quoteIdent(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [
      ADVISORY_NAMESPACE,
      `migrate:${schema}`,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(`SET LOCAL search_path TO ${quoted}`);
    // A migration may rebuild a big table: the pool's statement timeout is for queue traffic.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at bigint NOT NULL
    )`);
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT MAX(version) AS v FROM schema_migrations',
    );
    const current = rows[0]?.v ?? 0;
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new Error(
        `the store's schema "${schema}" is version ${current} but this offload knows only up to ${latest}: it was written by a newer offload; upgrade this one`,
      );
    }
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query(
        'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
        [m.version, m.name, now],
      );
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A schema name as an SQL identifier. Names are validated at open; this is belt and braces. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
