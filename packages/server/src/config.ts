import os from 'node:os';
import path from 'node:path';
import { parseDurationMs } from '@offload/protocol';

/**
 * Server configuration: typed once, defaulted once (here), validated at the edge, then
 * frozen. Durations are held as `...Ms` numbers. Sources, later ones winning: the
 * `offload.yaml` file, `OFFLOAD_*` environment variables, command-line flags; the CLI
 * gathers them into one flat `RawConfig` and calls `resolveServerConfig`.
 */
export interface ServerConfig {
  host: string;
  port: number;
  /** Where the SQLite file and the admin token live. */
  dataDir: string;
  /** `sqlite:PATH` or `postgres://...`. */
  store: string;
  /** PostgreSQL store: connections in this server's pool. */
  storePoolSize: number;
  /** PostgreSQL store: the statement_timeout of every statement; 0 for none. */
  storeStatementTimeoutMs: number;
  leaseTimeoutMs: number;
  /** How long a lower-tier agent leaves work for a free higher-tier one. */
  tierGraceMs: number;
  /** How long finished jobs are kept. */
  retentionMs: number;
  /** Per-job log cap; the tail is kept. */
  logCapBytes: number;
  bodyLimitBytes: number;
  batchBodyLimitBytes: number;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | null;
  /** Longest long poll an agent may ask for. */
  maxClaimWaitMs: number;
  /** Requests per second per API key (a token bucket holding 2 s worth); 0 for no limit. */
  rateLimit: number;
  /** Open event and log-follow streams per credential. */
  streamsPerKey: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** Config as it arrives from a file, the environment or flags: strings or numbers, all optional. */
export type RawConfig = Partial<Record<keyof ServerConfig, string | number | null | undefined>>;

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`invalid config ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** `$OFFLOAD_HOME`, else `$XDG_DATA_HOME/offload`, else `~/.local/share/offload`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OFFLOAD_HOME) return path.resolve(env.OFFLOAD_HOME);
  const xdg = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(xdg, 'offload');
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function resolveServerConfig(
  raw: RawConfig,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<ServerConfig> {
  const dataDir = path.resolve(str(raw, 'dataDir') ?? defaultDataDir(env));
  const store = str(raw, 'store') ?? `sqlite:${path.join(dataDir, 'offload.db')}`;
  if (!store.startsWith('sqlite:') && !/^postgres(ql)?:\/\//.test(store)) {
    throw new ConfigError('store', `"${store}" is neither sqlite:PATH nor postgres://...`);
  }
  const storeStatementTimeoutMs = duration(raw, 'storeStatementTimeoutMs', 30_000, 0);
  // PostgreSQL keeps statement_timeout in a 32-bit integer of milliseconds (~24 days).
  if (storeStatementTimeoutMs > 2_147_483_647) {
    throw new ConfigError(
      'storeStatementTimeoutMs',
      `"${raw.storeStatementTimeoutMs}" must be at most 24d (0 turns the timeout off)`,
    );
  }
  const logLevel = str(raw, 'logLevel') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('logLevel', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const config: ServerConfig = {
    host: str(raw, 'host') ?? '127.0.0.1',
    port: int(raw, 'port', 7070, 0, 65_535),
    dataDir,
    store,
    storePoolSize: int(raw, 'storePoolSize', 10, 1, 1_000),
    storeStatementTimeoutMs,
    leaseTimeoutMs: duration(raw, 'leaseTimeoutMs', 30_000, 1_000),
    tierGraceMs: duration(raw, 'tierGraceMs', 2_000, 0),
    retentionMs: duration(raw, 'retentionMs', 7 * 86_400_000, 1_000),
    logCapBytes: int(raw, 'logCapBytes', 10 * 1024 * 1024, 1_024, 2 ** 40),
    bodyLimitBytes: int(raw, 'bodyLimitBytes', 1024 * 1024, 1_024, 2 ** 31),
    batchBodyLimitBytes: int(raw, 'batchBodyLimitBytes', 32 * 1024 * 1024, 1_024, 2 ** 31),
    metricsToken: str(raw, 'metricsToken') ?? null,
    maxClaimWaitMs: duration(raw, 'maxClaimWaitMs', 30_000, 0),
    rateLimit: int(raw, 'rateLimit', 1_000, 0, 1_000_000),
    streamsPerKey: int(raw, 'streamsPerKey', 32, 1, 100_000),
    logLevel: logLevel as ServerConfig['logLevel'],
  };
  return Object.freeze(config);
}

function str(raw: RawConfig, key: keyof ServerConfig): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  return String(v);
}

function int(
  raw: RawConfig,
  key: keyof ServerConfig,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(key, `"${v}" must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Accepts `30s`, `500ms`, `5m`, or a number of milliseconds. */
function duration(
  raw: RawConfig,
  key: keyof ServerConfig,
  fallbackMs: number,
  minMs: number,
): number {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return fallbackMs;
  const ms = typeof v === 'number' ? v : parseDurationMs(v);
  if (ms === undefined || !Number.isFinite(ms) || ms < minMs) {
    throw new ConfigError(
      key,
      `"${v}" must be a duration like 500ms, 30s, 5m or 2h, at least ${minMs} ms`,
    );
  }
  return ms;
}
