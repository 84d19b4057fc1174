import Database from 'better-sqlite3';
import type { Store } from '../store.js';
import { createSqliteAgents } from './sqlite-agents.js';
import { createSqliteAttempts } from './sqlite-attempts.js';
import { createSqliteClaim } from './sqlite-claim.js';
import { SqliteContext } from './sqlite-context.js';
import { createSqliteCredentials } from './sqlite-credentials.js';
import { createSqliteJobList } from './sqlite-job-list.js';
import { createSqliteJobs } from './sqlite-jobs.js';
import { createSqliteLogs } from './sqlite-logs.js';
import { migrate } from './sqlite-migrations.js';
import { createSqliteQueues } from './sqlite-queues.js';
import { createSqliteSweeps } from './sqlite-sweeps.js';
import { WalFlusher } from './sqlite-wal-flusher.js';

export interface SqliteStoreOptions {
  /** Database file; ':memory:' for tests. */
  path: string;
  /**
   * How long to wait at open for another process holding the file to let go. Default 0:
   * fail at once — the lock means another offload server is running on this file.
   */
  lockTimeoutMs?: number;
  /** Page cache size in MiB (default 64). */
  cacheSizeMb?: number;
  /** Clock for the migrations' applied_at (default Date.now). */
  now?: () => number;
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
  );
}

/**
 * Opens (creating if needed) a SQLite store and takes the file for this process alone.
 *
 * `locking_mode=EXCLUSIVE` set before WAL mode keeps the WAL index in heap memory and holds
 * the database file's lock for the life of the connection; the migrations' IMMEDIATE
 * transaction takes it at open. A second open — from another process or this one — fails
 * at once with a plain Error naming the file. The lock is an OS file lock, so it dies with
 * the process (no stale lock file after kill -9). Being the only writer is also what lets
 * the store keep its counts and class caches in memory.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const { path } = options;
  const now = options.now ?? Date.now;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: options.lockTimeoutMs ?? 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`cache_size = ${-1024 * (options.cacheSizeMb ?? 64)}`);
    db.pragma('temp_store = MEMORY');
    // Relations are kept by the store's own code (deletes of logs and tags with their job).
    db.pragma('foreign_keys = OFF');
    migrate(db, now());
    return createSqliteStore(db);
  } catch (err) {
    db?.close();
    if (isBusy(err)) {
      throw new Error(
        `the SQLite store ${path} is locked: another offload server is using it. ` +
          'Stop that server, or give this one another --store path (one SQLite file serves one server; use PostgreSQL to run several).',
        { cause: err },
      );
    }
    throw err;
  }
}

function createSqliteStore(db: Database.Database): Store {
  // An in-memory database has no WAL to flush. Linux only, where it was measured: libuv's
  // fdatasync is F_FULLFSYNC on macOS (a flush of the drive's cache, far more than the plain
  // fsync SQLite itself does there), and on Windows it needs a handle open for writing.
  const flusher = db.memory || process.platform !== 'linux' ? undefined : new WalFlusher(db.name);
  const ctx = new SqliteContext(db, () => flusher?.committed());
  let closed = false;
  return {
    capabilities: Object.freeze({ multiServer: false, changeFeed: false }),
    // One server per file: nobody else commits changes to tell about.
    subscribeChanges: () => () => undefined,
    // One server per file: it leads, from the next microtask until it stops.
    campaign(onChange) {
      let leading = false;
      let stopped = false;
      queueMicrotask(() => {
        if (stopped) return;
        leading = true;
        onChange(true);
      });
      return async () => {
        stopped = true;
        if (leading) onChange(false);
        leading = false;
      };
    },
    async ping() {
      ctx.stmt('SELECT 1').get();
    },
    async close() {
      if (closed) return;
      closed = true;
      flusher?.close();
      try {
        db.pragma('optimize');
      } finally {
        db.close();
      }
    },
    ...createSqliteJobs(ctx),
    ...createSqliteJobList(ctx),
    ...createSqliteClaim(ctx),
    ...createSqliteAttempts(ctx),
    ...createSqliteSweeps(ctx),
    ...createSqliteLogs(ctx),
    ...createSqliteAgents(ctx),
    ...createSqliteQueues(ctx),
    ...createSqliteCredentials(ctx),
  };
}
