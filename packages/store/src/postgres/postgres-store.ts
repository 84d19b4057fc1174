import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Store } from '../store.js';
import { createPgAgents } from './postgres-agents.js';
import { createPgAttempts } from './postgres-attempts.js';
import { createPgClaim } from './postgres-claim.js';
import { ChangeFeed, channelFor } from './postgres-changes.js';
import { PgContext, READ_TIMEOUT_MARGIN_MS, withConnectionState } from './postgres-context.js';
import { Campaign } from './postgres-leader.js';
import { createPgCredentials } from './postgres-credentials.js';
import { createPgJobList } from './postgres-job-list.js';
import { createPgJobs } from './postgres-jobs.js';
import { createPgLogs } from './postgres-logs.js';
import { migratePg } from './postgres-migrations.js';
import { createPgQueues } from './postgres-queues.js';
import { createPgSweeps } from './postgres-sweeps.js';
import { withoutNul } from './postgres-text.js';

export interface PostgresStoreOptions {
  /** A libpq-style URL: postgres://user:password@host:port/database?... */
  url: string;
  /** The schema holding offload's tables, created if missing (default "offload"). Lower-case letters, digits and _. */
  schema?: string;
  /** Connections in this server's pool (default 10). */
  poolSize?: number;
  /** Server-side statement_timeout for every statement, in ms; 0 for none (default 30 000). */
  statementTimeoutMs?: number;
  /** application_name of the connections, as pg_stat_activity shows them (default "offload"). */
  applicationName?: string;
  /** How long to wait for a new connection before the call fails, in ms (default 5 000). */
  connectTimeoutMs?: number;
  /**
   * Errors of idle pooled connections (the database restarted, the network dropped). The
   * pool discards such a connection and opens a new one on the next call; this only
   * reports it. Without a listener, node-postgres would crash the process on it.
   */
  onError?: (err: Error) => void;
  /**
   * Announce every committed transaction (one NOTIFY each) so that other servers'
   * subscribeChanges hear it (default true). Off only for a deployment known to have one
   * server: NOTIFY serialises commits on a database-wide lock.
   */
  changeFeed?: boolean;
  /** How often a campaign for maintenance leadership tries for it, or checks it still holds it (ms, default 2 000). */
  leaderIntervalMs?: number;
  /** Clock for the migrations' applied_at (default Date.now). */
  now?: () => number;
}

export const DEFAULT_POSTGRES_SCHEMA = 'offload';
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** pg's OID for int8/bigint. Times and seqs are bigints; all stay below 2^53. */
const INT8_OID = 20;

/**
 * bigint as a JS number (node-postgres returns a string by default, to be safe above 2^53;
 * epoch-ms times and row sequence numbers never get there). Per pool, not pg.types' global
 * registry, so other users of pg in the process are unaffected.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): ((v: string) => unknown) =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : (pg.types.getTypeParser(oid, format ?? 'text') as (
          v: string,
        ) => unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Opens a PostgreSQL store: a connection pool whose connections all use `schema`, after
 * applying its migrations (safe when several servers start at once: see migratePg). Any
 * number of servers may open the same database and schema (capabilities.multiServer).
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? DEFAULT_POSTGRES_SCHEMA;
  if (!SCHEMA_RE.test(schema)) {
    throw new Error(
      `invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _ (starting with a letter or _), at most 63`,
    );
  }
  const poolSize = options.poolSize ?? 10;
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  const connection: pg.ClientConfig = {
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    application_name: options.applicationName ?? 'offload',
    // Startup parameters: every connection is in the schema from its first statement —
    // nothing to run (or forget) after checkout. (statement_timeout, below, is one too.)
    // The keepalives make the database end a session whose server vanished in ~25 s
    // (10 s idle, then 3 probes 5 s apart) instead of the kernel's ~2 h: the leader's
    // session holds the maintenance lock, and no other server can lead before it ends.
    options: `-c search_path=${schema} -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3`,
    // And this side notices a database that vanished: the pool's, the leader's and the
    // listener's sockets probe after 10 s idle.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // A client-side read timeout: the statement timeout is the database's own and bounds
    // nothing when the network holds every packet (a black hole) — a statement, the
    // readiness ping and the leader's check would wait for ever. No statement timeout: none.
    ...(statementTimeoutMs > 0
      ? { query_timeout: statementTimeoutMs + READ_TIMEOUT_MARGIN_MS }
      : {}),
  };
  const pool = new pg.Pool({
    ...connection,
    max: poolSize,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    types,
  });
  const onError = options.onError ?? (() => undefined);
  pool.on('error', onError);
  try {
    const client = await pool.connect();
    try {
      await migratePg(client, schema, (options.now ?? Date.now)());
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    // A refused connection to a name with several addresses is an AggregateError with an
    // empty message: its code says it.
    const e = err as Error & { code?: string };
    throw new Error(
      `could not open the PostgreSQL store (schema "${schema}"): ${e.message || e.code || String(err)}`,
      { cause: err },
    );
  }
  const origin = randomUUID();
  const channel = channelFor(schema);
  const feed = new ChangeFeed({
    connection: { ...connection, application_name: `${connection.application_name}-listen` },
    channel,
    origin,
    onError,
  });
  const notify = options.changeFeed === false ? null : { channel, origin };
  const campaign = (onChange: (leader: boolean) => void): Campaign =>
    new Campaign(
      {
        connection: { ...connection, application_name: `${connection.application_name}-leader` },
        name: schema,
        intervalMs: options.leaderIntervalMs ?? 2_000,
        onError,
      },
      onChange,
    );
  return createPostgresStore(pool, onError, notify, feed, campaign);
}

function createPostgresStore(
  pool: pg.Pool,
  onError: (err: Error) => void,
  notify: { channel: string; origin: string } | null,
  feed: ChangeFeed,
  newCampaign: (onChange: (leader: boolean) => void) => Campaign,
): Store {
  const ctx = new PgContext(pool, onError, notify);
  const campaigns = new Set<Campaign>();
  let closed: Promise<void> | undefined;
  return withConnectionStates({
    capabilities: Object.freeze({ multiServer: true, changeFeed: true }),
    subscribeChanges: (listener) => feed.subscribe(listener),
    campaign(onChange) {
      const c = newCampaign(onChange);
      campaigns.add(c);
      c.start();
      return async () => {
        campaigns.delete(c);
        await c.stop();
      };
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      closed ??= Promise.all([
        feed.close(),
        ...[...campaigns].map((c) => c.stop()),
        pool.end(),
      ]).then(() => undefined);
      await closed;
    },
    ...createPgJobs(ctx),
    ...createPgJobList(ctx),
    ...createPgClaim(ctx),
    ...createPgAttempts(ctx),
    ...createPgSweeps(ctx),
    ...createPgLogs(ctx),
    ...createPgAgents(ctx),
    ...createPgQueues(ctx),
    ...createPgCredentials(ctx),
  });
}

/** Methods that return at once rather than a promise: not wrapped. */
const SYNC_METHODS = new Set<string>(['subscribeChanges', 'campaign']);

/**
 * Every method's failures pass through withConnectionState, and its arguments through
 * withoutNul (text cannot hold NUL): one wrapper, not one per call site.
 */
function withConnectionStates(store: Store): Store {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(store)) {
    wrapped[key] =
      typeof value === 'function' && !SYNC_METHODS.has(key)
        ? async (...args: unknown[]): Promise<unknown> => {
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>)(...withoutNul(args));
            } catch (err) {
              throw withConnectionState(err);
            }
          }
        : value;
  }
  return wrapped as unknown as Store;
}
