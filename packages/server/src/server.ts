import fs from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { destination, pino, type DestinationStream } from 'pino';
import {
  DEFAULT_POSTGRES_SCHEMA,
  openPostgresStore,
  openSqliteStore,
  type Store,
} from '@offload/store';
import { ensureAdminToken, type AdminToken } from './admin-token.js';
import { buildApp } from './app.js';
import type { ServerConfig } from './config.js';
import type { App } from './routes/route-context.js';

export interface StartServerOptions {
  config: Readonly<ServerConfig>;
  /** A pino logger; default: JSON lines on stdout at `config.logLevel`. */
  logger?: FastifyBaseLogger;
  /** Read for `OFFLOAD_ADMIN_TOKEN` (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * On close, how long requests still open may run before their connections are cut
   * (default 5 s). Ordinary requests finish in milliseconds and parked agent claims are
   * released at once; what is left after this is an event stream, a log follow or a job
   * wait, which would otherwise hold the shutdown for as long as its client likes.
   */
  shutdownGraceMs?: number;
}

export interface RunningServer {
  app: App;
  /** Where clients reach it, with the real port (`port: 0` picks a free one). */
  url: string;
  store: Store;
  admin: AdminToken;
  /**
   * Stops accepting, lets in-flight requests finish (parked agent claims are released),
   * cuts what is still open after the grace period, then closes the store. Idempotent.
   */
  close(): Promise<void>;
}

/** An error that stops start-up; its message is one sentence an operator can act on. */
export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * Starts a server: creates the data directory (0700), opens the store, makes sure an admin
 * credential exists, builds the app and listens. Everything opened is closed again when
 * a later step fails, so a failed start leaves no lock or socket behind.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger(config.logLevel);

  await makeDir(config.dataDir, 'data directory');
  const store = await openStore(config, logger);
  let app: App | undefined;
  try {
    const admin = await ensureAdminToken(store, {
      envToken: env.OFFLOAD_ADMIN_TOKEN,
      dataDir: config.dataDir,
      now: Date.now(),
    });
    app = await buildApp({ store, config, logger });
    // Serve once the feed hears the other servers (milliseconds: the database just
    // answered). One that cannot connect does not stop the start: /readyz says why.
    await app.offload.feed.whenListening(FEED_START_WAIT_MS);
    await listen(app, config);
    const address = app.server.address() as AddressInfo;
    const url = `http://${urlHost(config.host)}:${address.port}`;
    let closing: Promise<void> | undefined;
    const running = app;
    return {
      app,
      url,
      store,
      admin,
      close: () =>
        (closing ??= closeAll(
          running,
          store,
          options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
        )),
    };
  } catch (err) {
    await closeAll(app, store).catch(() => undefined);
    throw err;
  }
}

/** Structured JSON logs on stdout. Credentials never appear: the Authorization header is redacted. */
export function createLogger(
  level: ServerConfig['logLevel'],
  to: DestinationStream = destination(1),
): FastifyBaseLogger {
  return pino(
    {
      level,
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.token', 'token'],
        censor: '[redacted]',
      },
    },
    to,
  );
}

const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;
const FEED_START_WAIT_MS = 5_000;

async function closeAll(app: App | undefined, store: Store, graceMs = 0): Promise<void> {
  const cut = app && setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    if (app) await app.close();
  } finally {
    clearTimeout(cut);
    await store.close();
  }
}

async function makeDir(dir: string, what: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StartupError(
      `cannot create the ${what} ${dir}: ${(err as Error).message}; pick another with --data-dir or OFFLOAD_HOME`,
      { cause: err },
    );
  }
}

async function openStore(
  config: Readonly<ServerConfig>,
  logger: FastifyBaseLogger,
): Promise<Store> {
  const spec = config.store;
  if (/^postgres(ql)?:\/\//.test(spec)) return openPostgres(config, logger);
  if (!spec.startsWith('sqlite:'))
    throw new StartupError(`unknown store "${spec}": use sqlite:PATH or postgres://...`);
  const file = spec.slice('sqlite:'.length);
  if (file !== ':memory:') await makeDir(path.dirname(file), 'directory for the SQLite store');
  // openSqliteStore's errors (the file is locked by another server, ...) already say what to do.
  return openSqliteStore({ path: file });
}

/**
 * A PostgreSQL URL, with an optional `schema` query parameter (default "offload") that is
 * ours, not libpq's, so it is taken out before the URL reaches the driver. A connection
 * that drops later does not stop the server: the pool reports it here, replaces it on the
 * next call, and until the database answers again requests fail with 503 and /readyz
 * says why.
 */
async function openPostgres(
  config: Readonly<ServerConfig>,
  logger: FastifyBaseLogger,
): Promise<Store> {
  let url: URL;
  try {
    url = new URL(config.store);
  } catch (err) {
    throw new StartupError(`the store URL ${redactStoreUrl(config.store)} is not a valid URL`, {
      cause: err,
    });
  }
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  try {
    return await openPostgresStore({
      url: url.toString(),
      ...(schema === undefined ? {} : { schema }),
      poolSize: config.storePoolSize,
      statementTimeoutMs: config.storeStatementTimeoutMs,
      applicationName: 'offload-server',
      onError: (err) =>
        logger.warn({ err }, 'a PostgreSQL connection failed; it will be replaced on the next use'),
    });
  } catch (err) {
    // The driver's own words (openPostgresStore wraps them); a refused connection to a
    // name with several addresses is an AggregateError with an empty message and a code.
    const inner = ((err as Error).cause ?? err) as Error & { code?: string };
    const why = inner.message || inner.code || String(inner);
    throw new StartupError(
      `cannot open the PostgreSQL store ${redactStoreUrl(config.store)} (schema "${schema ?? DEFAULT_POSTGRES_SCHEMA}"): ${why}; check the --store URL and that the database is running`,
      { cause: err },
    );
  }
}

/** A store URL fit for logs and messages: the password replaced. */
export function redactStoreUrl(spec: string): string {
  try {
    const url = new URL(spec);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return spec.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

async function listen(app: App, config: Readonly<ServerConfig>): Promise<void> {
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') {
      throw new StartupError(
        `port ${config.port} on ${config.host} is already in use: stop the other process, or choose another --port (0 picks a free one)`,
        { cause: err },
      );
    }
    if (code === 'EACCES')
      throw new StartupError(`not allowed to listen on ${where}: choose a --port above 1023`, {
        cause: err,
      });
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new StartupError(
        `cannot listen on ${where}: --host ${config.host} is not an address of this machine`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** A host as it goes in a URL: IPv6 in brackets; a wildcard address becomes the loopback one. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
