import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError, resolveServerConfig, type RawConfig, type ServerConfig } from './config.js';

/**
 * The public config keys: what a user writes in `offload.yaml`, as `OFFLOAD_*` variables
 * and as flags. Each maps to one `RawConfig` key; the `...Ms`/`...Bytes` suffixes are
 * internal, so the names people type stay short.
 */
const KEYS = {
  host: { raw: 'host', type: 'string' },
  port: { raw: 'port', type: 'int' },
  store: { raw: 'store', type: 'path' },
  storePoolSize: { raw: 'storePoolSize', type: 'int' },
  storeStatementTimeout: { raw: 'storeStatementTimeoutMs', type: 'duration' },
  dataDir: { raw: 'dataDir', type: 'path' },
  leaseTimeout: { raw: 'leaseTimeoutMs', type: 'duration' },
  tierGrace: { raw: 'tierGraceMs', type: 'duration' },
  retention: { raw: 'retentionMs', type: 'duration' },
  logCap: { raw: 'logCapBytes', type: 'size' },
  bodyLimit: { raw: 'bodyLimitBytes', type: 'size' },
  batchBodyLimit: { raw: 'batchBodyLimitBytes', type: 'size' },
  metricsToken: { raw: 'metricsToken', type: 'string' },
  logLevel: { raw: 'logLevel', type: 'string' },
  maxClaimWait: { raw: 'maxClaimWaitMs', type: 'duration' },
  rateLimit: { raw: 'rateLimit', type: 'int' },
  streamsPerKey: { raw: 'streamsPerKey', type: 'int' },
} as const satisfies Record<
  string,
  { raw: keyof ServerConfig; type: 'string' | 'int' | 'path' | 'duration' | 'size' }
>;

export type ConfigKey = keyof typeof KEYS;
export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];

/** Values from the command line, by public key (`leaseTimeout`, not `leaseTimeoutMs`). */
export type ConfigFlags = Partial<Record<ConfigKey, string | number | undefined>>;

export interface LoadServerConfigOptions {
  /** `--config FILE`; else `$OFFLOAD_CONFIG`; else `./offload.yaml` when present. */
  file?: string | undefined;
  env: NodeJS.ProcessEnv;
  flags: ConfigFlags;
  /** Where `./offload.yaml` and relative flag/env paths are looked up (default: process.cwd()). */
  cwd?: string;
}

/** `leaseTimeout` → `OFFLOAD_LEASE_TIMEOUT`. */
export function envName(key: ConfigKey): string {
  return 'OFFLOAD_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** `leaseTimeout` → `--lease-timeout`. */
export function flagName(key: ConfigKey): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** Which config file applies, or undefined when there is none. */
export function findConfigFile(
  options: Pick<LoadServerConfigOptions, 'file' | 'env' | 'cwd'>,
): string | undefined {
  const cwd = options.cwd ?? process.cwd();
  if (options.file) return path.resolve(cwd, options.file);
  if (options.env.OFFLOAD_CONFIG) return path.resolve(cwd, options.env.OFFLOAD_CONFIG);
  const local = path.join(cwd, 'offload.yaml');
  return fs.existsSync(local) ? local : undefined;
}

type Value = string | number;
interface Setting {
  value: Value;
  /** Where it came from, for error messages: `offload.yaml`, `OFFLOAD_PORT`, `--port`. */
  source: string;
}

/**
 * Gathers the server config from the file, then `OFFLOAD_*` variables, then flags (later
 * wins), and resolves it with `resolveServerConfig` into a frozen `ServerConfig`. Throws a
 * `ConfigError` naming the public key and where the bad value came from.
 *
 * A bare number for a duration means seconds in every source (`leaseTimeout: 30` in YAML
 * is 30 s, like `--lease-timeout 30`); sizes are bytes or `KiB`/`MiB`/`GiB`. Relative
 * paths in the file are relative to the file's directory; on the command line and in the
 * environment, to the working directory.
 */
export function loadServerConfig(options: LoadServerConfigOptions): Readonly<ServerConfig> {
  const cwd = options.cwd ?? process.cwd();
  const settings = new Map<ConfigKey, Setting>();

  const file = findConfigFile(options);
  if (file !== undefined) {
    const values = readConfigFile(file);
    const base = path.dirname(file);
    for (const [key, value] of values)
      settings.set(key, { value: normalize(key, value, base), source: file });
  }

  const { env } = options;
  // OFFLOAD_HOME names the data directory too (SPEC §5); OFFLOAD_DATA_DIR, more specific, wins.
  if (env.OFFLOAD_HOME)
    settings.set('dataDir', {
      value: normalize('dataDir', env.OFFLOAD_HOME, cwd),
      source: 'OFFLOAD_HOME',
    });
  for (const key of CONFIG_KEYS) {
    const v = env[envName(key)];
    if (v !== undefined && v !== '')
      settings.set(key, { value: normalize(key, v, cwd), source: envName(key) });
  }

  for (const key of CONFIG_KEYS) {
    const v = options.flags[key];
    if (v !== undefined && v !== '')
      settings.set(key, { value: normalize(key, v, cwd), source: flagName(key) });
  }

  const raw: RawConfig = {};
  for (const [key, s] of settings) raw[KEYS[key].raw] = s.value;
  try {
    // The environment is passed only for the data directory's XDG fallback.
    return resolveServerConfig(raw, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const key = CONFIG_KEYS.find((k) => KEYS[k].raw === err.key);
    if (key === undefined) throw err;
    const detail = err.message.replace(/^invalid config \S+: /, '');
    const source = settings.get(key)?.source;
    const named = new ConfigError(key, `${detail}${source ? ` (set by ${source})` : ''}`);
    named.cause = err;
    throw named;
  }
}

function readConfigFile(file: string): Array<[ConfigKey, unknown]> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : (err as Error).message;
    throw new ConfigError('config', `cannot read ${file}: ${why}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `:${err.linePos[0].line}` : '';
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError('config', `${file}${where} is not valid YAML: ${message}`);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(
      'config',
      `${file} must be a mapping of keys to values (like \`port: 7070\`)`,
    );
  }
  const out: Array<[ConfigKey, unknown]> = [];
  for (const [key, value] of Object.entries(doc)) {
    if (!Object.hasOwn(KEYS, key)) {
      throw new ConfigError(
        key,
        `unknown key in ${file}; the known keys are ${CONFIG_KEYS.join(', ')}`,
      );
    }
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ConfigError(
        key,
        `must be a string or a number in ${file}, not ${Array.isArray(value) ? 'a list' : typeof value}`,
      );
    }
    out.push([key as ConfigKey, value]);
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Brings a value from any source to the form `resolveServerConfig` takes. */
function normalize(key: ConfigKey, value: unknown, base: string): Value {
  const v = typeof value === 'number' ? value : String(value).trim();
  switch (KEYS[key].type) {
    case 'duration':
      // RawConfig reads a number as ms and a bare numeric string as seconds; users write
      // seconds everywhere, so numbers from YAML become strings.
      return String(v);
    case 'size': {
      if (typeof v === 'number') return v;
      const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v);
      const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
      // Left as written when it is not a size, so the resolver names the key.
      return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : v;
    }
    case 'path':
      return typeof v === 'number' ? v : resolvePath(key, v, base);
    default:
      return v;
  }
}

function resolvePath(key: ConfigKey, v: string, base: string): string {
  const expand = (p: string) =>
    p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
  if (key === 'dataDir') return path.resolve(base, expand(v));
  // store: only a SQLite file path is a path; ':memory:' and postgres URLs pass through.
  if (v === 'sqlite:')
    throw new ConfigError(
      'store',
      '"sqlite:" needs a file path, like sqlite:/var/lib/offload/offload.db',
    );
  if (v.startsWith('sqlite:') && v !== 'sqlite::memory:')
    return 'sqlite:' + path.resolve(base, expand(v.slice('sqlite:'.length)));
  return v;
}
