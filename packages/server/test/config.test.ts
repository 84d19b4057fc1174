import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, ConfigError, envName, flagName, loadServerConfig } from '@offload/server';

describe('loadServerConfig: offload.yaml, then OFFLOAD_* variables, then flags', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const error = (fn: () => unknown): ConfigError => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-config-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('applies the defaults when nothing is set, with the data dir from XDG_DATA_HOME', () => {
    const config = loadServerConfig({ env: { XDG_DATA_HOME: dir }, flags: {}, cwd: dir });
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 7070,
      dataDir: path.join(dir, 'offload'),
      store: `sqlite:${path.join(dir, 'offload', 'offload.db')}`,
      storePoolSize: 10,
      storeStatementTimeoutMs: 30_000,
      leaseTimeoutMs: 30_000,
      tierGraceMs: 2_000,
      retentionMs: 7 * 86_400_000,
      logCapBytes: 10 * 1024 * 1024,
      bodyLimitBytes: 1024 * 1024,
      batchBodyLimitBytes: 32 * 1024 * 1024,
      metricsToken: null,
      maxClaimWaitMs: 30_000,
      rateLimit: 1_000,
      streamsPerKey: 32,
      logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every key from the file', () => {
    const file = write(
      'custom.yaml',
      [
        'host: 0.0.0.0',
        'port: 8080',
        'store: sqlite:/var/tmp/x.db',
        'storePoolSize: 25',
        'storeStatementTimeout: 2m',
        'dataDir: /var/tmp/offload-data',
        'leaseTimeout: 45s',
        'tierGrace: 500ms',
        'retention: 2d',
        'logCap: 1MiB',
        'bodyLimit: 2048',
        'batchBodyLimit: 4KiB',
        'metricsToken: m3tr1cs',
        'logLevel: warn',
        'maxClaimWait: 20',
        'rateLimit: 50',
        'streamsPerKey: 4',
      ].join('\n'),
    );
    const config = loadServerConfig({ file, env: {}, flags: {}, cwd: dir });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      store: 'sqlite:/var/tmp/x.db',
      storePoolSize: 25,
      storeStatementTimeoutMs: 120_000,
      dataDir: '/var/tmp/offload-data',
      leaseTimeoutMs: 45_000,
      tierGraceMs: 500,
      retentionMs: 2 * 86_400_000,
      logCapBytes: 1024 * 1024,
      bodyLimitBytes: 2048,
      batchBodyLimitBytes: 4096,
      metricsToken: 'm3tr1cs',
      logLevel: 'warn',
      // A bare number for a duration is seconds, in the file as on the command line.
      maxClaimWaitMs: 20_000,
      rateLimit: 50,
      streamsPerKey: 4,
    });
  });

  it('lets the environment override the file and flags override both', () => {
    const file = write('offload.yaml', 'port: 1111\nhost: 10.0.0.1\nlogLevel: debug\n');
    const env = { OFFLOAD_PORT: '2222', OFFLOAD_HOST: '10.0.0.2', OFFLOAD_DATA_DIR: dir };
    expect(loadServerConfig({ env, flags: {}, cwd: dir })).toMatchObject({
      port: 2222,
      host: '10.0.0.2',
      logLevel: 'debug',
    });
    expect(loadServerConfig({ file, env, flags: { port: '3333' }, cwd: dir })).toMatchObject({
      port: 3333,
      host: '10.0.0.2',
    });
  });

  it('finds ./offload.yaml, else $OFFLOAD_CONFIG, and --config wins over both', () => {
    write('offload.yaml', 'port: 1111\n');
    const other = write('other.yaml', 'port: 2222\n');
    const third = write('third.yaml', 'port: 3333\n');
    const env = { OFFLOAD_DATA_DIR: dir };
    expect(loadServerConfig({ env, flags: {}, cwd: dir }).port).toBe(1111);
    expect(
      loadServerConfig({ env: { ...env, OFFLOAD_CONFIG: other }, flags: {}, cwd: dir }).port,
    ).toBe(2222);
    expect(
      loadServerConfig({ file: third, env: { ...env, OFFLOAD_CONFIG: other }, flags: {}, cwd: dir })
        .port,
    ).toBe(3333);
    // No ./offload.yaml is fine; a named file that does not exist is not.
    expect(loadServerConfig({ env, flags: {}, cwd: os.tmpdir() }).port).toBe(7070);
    const missing = error(() => loadServerConfig({ file: 'nope.yaml', env, flags: {}, cwd: dir }));
    expect(missing.message).toContain(path.join(dir, 'nope.yaml'));
  });

  it('takes the data dir from OFFLOAD_HOME, OFFLOAD_DATA_DIR winning, and puts the SQLite file in it', () => {
    const home = path.join(dir, 'home');
    expect(loadServerConfig({ env: { OFFLOAD_HOME: home }, flags: {}, cwd: dir })).toMatchObject({
      dataDir: home,
      store: `sqlite:${path.join(home, 'offload.db')}`,
    });
    const file = write('offload.yaml', 'dataDir: from-file\n');
    expect(
      loadServerConfig({ file, env: { OFFLOAD_HOME: home }, flags: {}, cwd: dir }).dataDir,
    ).toBe(home);
    expect(
      loadServerConfig({
        env: { OFFLOAD_HOME: home, OFFLOAD_DATA_DIR: '/srv/offload' },
        flags: {},
        cwd: dir,
      }).dataDir,
    ).toBe('/srv/offload');
    expect(
      loadServerConfig({ env: { OFFLOAD_HOME: home }, flags: { dataDir: 'flag-dir' }, cwd: dir })
        .dataDir,
    ).toBe(path.join(dir, 'flag-dir'));
  });

  it('resolves relative paths in the file against the file, on the command line against the working directory', () => {
    fs.mkdirSync(path.join(dir, 'etc'));
    const file = write('etc/offload.yaml', 'dataDir: data\nstore: sqlite:db/x.db\n');
    expect(loadServerConfig({ file, env: {}, flags: {}, cwd: '/' })).toMatchObject({
      dataDir: path.join(dir, 'etc', 'data'),
      store: `sqlite:${path.join(dir, 'etc', 'db', 'x.db')}`,
    });
    expect(
      loadServerConfig({ env: {}, flags: { dataDir: 'd', store: 'sqlite:s.db' }, cwd: dir }),
    ).toMatchObject({
      dataDir: path.join(dir, 'd'),
      store: `sqlite:${path.join(dir, 's.db')}`,
    });
    expect(
      loadServerConfig({
        env: { OFFLOAD_DATA_DIR: dir },
        flags: { store: 'postgres://db/offload' },
        cwd: dir,
      }).store,
    ).toBe('postgres://db/offload');
  });

  it('reads every key from its OFFLOAD_* variable', () => {
    const env: NodeJS.ProcessEnv = {
      OFFLOAD_HOST: '::1',
      OFFLOAD_PORT: '9',
      OFFLOAD_STORE: 'sqlite:/tmp/y.db',
      OFFLOAD_STORE_POOL_SIZE: '4',
      OFFLOAD_STORE_STATEMENT_TIMEOUT: '0',
      OFFLOAD_DATA_DIR: '/tmp/z',
      OFFLOAD_LEASE_TIMEOUT: '1m',
      OFFLOAD_TIER_GRACE: '0',
      OFFLOAD_RETENTION: '1h',
      OFFLOAD_LOG_CAP: '2048',
      OFFLOAD_BODY_LIMIT: '2MiB',
      OFFLOAD_BATCH_BODY_LIMIT: '64MiB',
      OFFLOAD_METRICS_TOKEN: 'mt',
      OFFLOAD_LOG_LEVEL: 'silent',
      OFFLOAD_MAX_CLAIM_WAIT: '5s',
      OFFLOAD_RATE_LIMIT: '0',
      OFFLOAD_STREAMS_PER_KEY: '100',
    };
    expect(CONFIG_KEYS.map(envName).sort()).toEqual(Object.keys(env).sort());
    expect(loadServerConfig({ env, flags: {}, cwd: dir })).toEqual({
      host: '::1',
      port: 9,
      store: 'sqlite:/tmp/y.db',
      storePoolSize: 4,
      storeStatementTimeoutMs: 0,
      dataDir: '/tmp/z',
      leaseTimeoutMs: 60_000,
      tierGraceMs: 0,
      retentionMs: 3_600_000,
      logCapBytes: 2048,
      bodyLimitBytes: 2 * 1024 * 1024,
      batchBodyLimitBytes: 64 * 1024 * 1024,
      metricsToken: 'mt',
      logLevel: 'silent',
      maxClaimWaitMs: 5_000,
      rateLimit: 0,
      streamsPerKey: 100,
    });
    expect(flagName('batchBodyLimit')).toBe('--batch-body-limit');
    expect(flagName('storeStatementTimeout')).toBe('--store-statement-timeout');
  });

  it('rejects an unknown key in the file, naming it and listing the known ones', () => {
    const file = write('offload.yaml', 'port: 7070\nleaseTimeoutMs: 30s\n');
    const err = error(() => loadServerConfig({ file, env: {}, flags: {}, cwd: dir }));
    expect(err.key).toBe('leaseTimeoutMs');
    expect(err.message).toContain('unknown key');
    expect(err.message).toContain(file);
    for (const key of CONFIG_KEYS) expect(err.message).toContain(key);
  });

  it('names the key and where a bad value came from', () => {
    const file = write('bad.yaml', 'leaseTimeout: banana\n');
    const fromFile = error(() => loadServerConfig({ file, env: {}, flags: {}, cwd: dir }));
    expect(fromFile.key).toBe('leaseTimeout');
    expect(fromFile.message).toMatch(/^invalid config leaseTimeout: "banana" must be a duration/);
    expect(fromFile.message).toContain(file);

    const fromEnv = error(() =>
      loadServerConfig({
        env: { OFFLOAD_PORT: '70000', OFFLOAD_DATA_DIR: dir },
        flags: {},
        cwd: dir,
      }),
    );
    expect(fromEnv.key).toBe('port');
    expect(fromEnv.message).toContain('OFFLOAD_PORT');

    const fromFlag = error(() =>
      loadServerConfig({ env: { OFFLOAD_DATA_DIR: dir }, flags: { logCap: 'lots' }, cwd: dir }),
    );
    expect(fromFlag.key).toBe('logCap');
    expect(fromFlag.message).toContain('--log-cap');

    const level = error(() =>
      loadServerConfig({ env: { OFFLOAD_DATA_DIR: dir }, flags: { logLevel: 'loud' }, cwd: dir }),
    );
    expect(level.key).toBe('logLevel');
    const store = error(() =>
      loadServerConfig({ env: { OFFLOAD_DATA_DIR: dir }, flags: { store: 'mysql://x' }, cwd: dir }),
    );
    expect(store.key).toBe('store');
    expect(store.message).toContain('--store');
  });

  it('validates the PostgreSQL pool size and statement timeout, naming the key', () => {
    const env = { OFFLOAD_DATA_DIR: dir };
    const pool = error(() =>
      loadServerConfig({ env: { ...env, OFFLOAD_STORE_POOL_SIZE: '0' }, flags: {}, cwd: dir }),
    );
    expect(pool.key).toBe('storePoolSize');
    expect(pool.message).toMatch(
      /"0" must be a whole number from 1 to 1000 \(set by OFFLOAD_STORE_POOL_SIZE\)/,
    );
    const timeout = error(() =>
      loadServerConfig({ env, flags: { storeStatementTimeout: 'soon' }, cwd: dir }),
    );
    expect(timeout.key).toBe('storeStatementTimeout');
    expect(timeout.message).toContain('--store-statement-timeout');
    const huge = error(() =>
      loadServerConfig({ env, flags: { storeStatementTimeout: '30d' }, cwd: dir }),
    );
    expect(huge.key).toBe('storeStatementTimeout');
    expect(huge.message).toContain('at most 24d');
  });

  it('rejects files that are not a mapping of scalars, and broken YAML with its line', () => {
    const list = write('list.yaml', '- port\n- 7070\n');
    expect(
      error(() => loadServerConfig({ file: list, env: {}, flags: {}, cwd: dir })).message,
    ).toContain('mapping');
    const nested = write('nested.yaml', 'port:\n  value: 1\n');
    expect(error(() => loadServerConfig({ file: nested, env: {}, flags: {}, cwd: dir })).key).toBe(
      'port',
    );
    const broken = write('broken.yaml', 'port: 7070\nhost: [unclosed\n');
    const err = error(() => loadServerConfig({ file: broken, env: {}, flags: {}, cwd: dir }));
    expect(err.message).toContain(`${broken}:`);
    expect(err.message).toContain('not valid YAML');
  });

  it('treats an empty file and empty values as unset', () => {
    const empty = write('empty.yaml', '# nothing yet\n');
    expect(
      loadServerConfig({ file: empty, env: { OFFLOAD_DATA_DIR: dir }, flags: {}, cwd: dir }).port,
    ).toBe(7070);
    const blank = write('blank.yaml', 'metricsToken:\nport: 7171\n');
    expect(
      loadServerConfig({
        file: blank,
        env: { OFFLOAD_DATA_DIR: dir, OFFLOAD_HOST: '' },
        flags: {},
        cwd: dir,
      }),
    ).toMatchObject({
      metricsToken: null,
      port: 7171,
      host: '127.0.0.1',
    });
  });
});
