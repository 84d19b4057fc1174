import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { credentialRecord, openSqliteStore, type Store } from '@offload/store';
import {
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  openTestPostgresStore,
  postgresTestEnv,
  queryTestDatabase,
} from '@offload/store/testing';
import {
  ensureAdminToken,
  hashSecret,
  loadServerConfig,
  startServer,
  StartupError,
  type RunningServer,
} from '@offload/server';
import { testStore } from './test-server.js';

const pgEnv = await postgresTestEnv();

let dir: string;
const closeStores: Array<() => Promise<void>> = [];
const servers: RunningServer[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-start-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const close of closeStores.splice(0)) await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A store of the kind OFFLOAD_TEST_STORE names: a SQLite file, or a fresh PostgreSQL schema. */
async function openStore(file = path.join(dir, 'offload.db')): Promise<Store> {
  if (testStore === 'postgres') {
    const pg = await openTestPostgresStore(pgEnv);
    closeStores.push(() => pg.cleanup());
    return pg.store;
  }
  const store = await openSqliteStore({ path: file });
  closeStores.push(() => store.close());
  return store;
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('ensureAdminToken', () => {
  it('generates a token once, stores only its hash, saves it 0600, and reuses it after', async () => {
    const store = await openStore();
    const first = await ensureAdminToken(store, { dataDir: dir, now: 1 });
    expect(first).toMatchObject({
      created: true,
      source: 'generated',
      file: path.join(dir, 'admin-token'),
    });
    expect(first.token).toMatch(/^offa_[A-Za-z0-9_-]{40,}$/);
    expect(fs.readFileSync(first.file, 'utf8').trim()).toBe(first.token);
    expect(mode(first.file)).toBe(0o600);
    const record = await store.credentialFindByHash({ hash: hashSecret(first.token) });
    expect(record).toMatchObject({ kind: 'admin', revokedAt: null });
    expect(JSON.stringify(record)).not.toContain(first.token);

    const again = await ensureAdminToken(store, { dataDir: dir, now: 2 });
    expect(again).toEqual({ ...first, created: false, source: 'file' });
  });

  it('replaces a saved token the store does not know (a new store file)', async () => {
    const old = await ensureAdminToken(await openStore(), { dataDir: dir, now: 1 });
    const other = await openStore(path.join(dir, 'other.db'));
    const fresh = await ensureAdminToken(other, { dataDir: dir, now: 2 });
    expect(fresh.created).toBe(true);
    expect(fresh.token).not.toBe(old.token);
    expect(fs.readFileSync(fresh.file, 'utf8').trim()).toBe(fresh.token);
    expect(await other.credentialFindByHash({ hash: hashSecret(old.token) })).toBeNull();
  });

  it('registers OFFLOAD_ADMIN_TOKEN under an id derived from its hash, once, and writes no file', async () => {
    const store = await openStore();
    const result = await ensureAdminToken(store, { envToken: 'xyz', dataDir: dir, now: 1 });
    expect(result).toMatchObject({ token: 'xyz', created: false, source: 'env' });
    const id = `admin_${hashSecret('xyz').slice(0, 16)}`;
    expect(await store.credentialGet({ id })).toMatchObject({
      kind: 'admin',
      hash: hashSecret('xyz'),
    });
    await ensureAdminToken(store, { envToken: 'xyz', dataDir: dir, now: 2 });
    expect(fs.existsSync(path.join(dir, 'admin-token'))).toBe(false);
  });

  it('registers one OFFLOAD_ADMIN_TOKEN once when several servers start on a store together', async () => {
    const store = await openStore();
    // Each looks, finds nothing, and creates the same id: all must start, none fail on it.
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        ensureAdminToken(store, { envToken: 'xyz', dataDir: path.join(dir, `s${i}`), now: i }),
      ),
    );
    expect(results.map((r) => r.source)).toEqual(['env', 'env', 'env']);
    expect(await store.credentialFindByHash({ hash: hashSecret('xyz') })).toMatchObject({
      kind: 'admin',
      revokedAt: null,
    });
  });

  it('refuses an OFFLOAD_ADMIN_TOKEN that is another kind of credential', async () => {
    const store = await openStore();
    await store.credentialCreate({
      credential: credentialRecord({
        id: 'key_1',
        kind: 'api-key',
        name: 'ci',
        hash: hashSecret('offk_secret'),
        scopes: ['read'],
        createdAt: 1,
      }),
    });
    await expect(
      ensureAdminToken(store, { envToken: 'offk_secret', dataDir: dir, now: 2 }),
    ).rejects.toThrow(/api-key credential, not an admin token/);
  });
});

// These start the server on its default store, a SQLite file in the data directory, and check
// that file's lock; the server on PostgreSQL is the next block, which runs on either pass.
describe.skipIf(testStore === 'postgres')('startServer', () => {
  const silent = pino({ level: 'silent' });
  const configFor = (flags: Record<string, string> = {}) =>
    loadServerConfig({
      env: {},
      flags: { dataDir: path.join(dir, 'data'), port: '0', ...flags },
      cwd: dir,
    });

  it('creates the data dir 0700, listens on a free port, and the admin token authenticates over HTTP', async () => {
    const server = await startServer({ config: configFor(), logger: silent, env: {} });
    servers.push(server);
    expect(mode(path.join(dir, 'data'))).toBe(0o700);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
    expect(server.admin.created).toBe(true);

    for (const p of ['/healthz', '/readyz'])
      expect((await request(server.url + p)).statusCode).toBe(200);
    const jobs = await request(`${server.url}/api/v1/jobs`, {
      headers: { authorization: `Bearer ${server.admin.token}` },
    });
    expect(jobs.statusCode).toBe(200);
    await jobs.body.dump();
    const anonymous = await request(`${server.url}/api/v1/jobs`);
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.dump();
  });

  it('close() stops listening and releases the store file', async () => {
    const config = configFor();
    const server = await startServer({ config, logger: silent, env: {} });
    await server.close();
    await server.close(); // idempotent
    await expect(request(server.url + '/healthz')).rejects.toThrow();
    await openStore(config.store.slice('sqlite:'.length));
  });

  it('close() releases a parked agent claim at once and cuts an event stream after the grace period', async () => {
    const server = await startServer({
      config: configFor(),
      logger: silent,
      env: {},
      shutdownGraceMs: 300,
    });
    servers.push(server);
    const admin = {
      authorization: `Bearer ${server.admin.token}`,
      'content-type': 'application/json',
    };
    const post = async (url: string, token: Record<string, string>, body: unknown) => {
      const res = await request(server.url + url, {
        method: 'POST',
        headers: token,
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
    };
    const join = await post('/api/v1/keys', admin, { kind: 'join-token', name: 'join' });
    expect(join.status).toBe(201);
    const agentBody = {
      name: 'a1',
      capabilities: [],
      resources: { cpu: 1, memoryMb: 512, gpus: [] },
      maxJobs: 1,
    };
    const registered = await post(
      '/api/v1/agent/register',
      { ...admin, authorization: `Bearer ${join.body.token}` },
      agentBody,
    );
    expect(registered.status).toBe(201);
    const agent = { ...admin, authorization: `Bearer ${registered.body.secret}` };

    const events = await request(`${server.url}/api/v1/events`, { headers: admin });
    expect(events.statusCode).toBe(200);
    const streamEnded = new Promise<void>((resolve) => {
      events.body.on('error', () => resolve());
      events.body.on('end', () => resolve());
      events.body.resume();
    });
    const sync = post('/api/v1/agent/sync', agent, { max: 1, waitMs: 20_000 });
    await vi.waitFor(() => expect(server.app.offload.dispatcher.parkedCount).toBe(1));

    const started = Date.now();
    const closed = server.close();
    // Released by the shutdown (a cut connection would reject; the claim's own wait is 20 s).
    await expect(sync).resolves.toMatchObject({ status: 200, body: { jobs: [] } });
    await streamEnded;
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('names an unreachable PostgreSQL store without its password', async () => {
    const err = await startServer({
      config: configFor({ store: 'postgres://offload:s3cret@127.0.0.1:1/offload' }),
      logger: silent,
      env: {},
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    const message = (err as Error).message;
    expect(message).toMatch(
      /^cannot open the PostgreSQL store postgres:\/\/offload:\*\*\*@127\.0\.0\.1:1\/offload \(schema "offload"\): .*ECONNREFUSED/,
    );
    expect(message).not.toContain('s3cret');
  });

  it('names a port in use and leaves the store unlocked', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((blocker.address() as net.AddressInfo).port);
      const config = configFor({ port });
      const err = await startServer({ config, logger: silent, env: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StartupError);
      expect((err as Error).message).toBe(
        `port ${port} on 127.0.0.1 is already in use: stop the other process, or choose another --port (0 picks a free one)`,
      );
      await openStore(config.store.slice('sqlite:'.length));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses a second server on the same SQLite file', async () => {
    const config = configFor();
    servers.push(await startServer({ config, logger: silent, env: {} }));
    await expect(startServer({ config, logger: silent, env: {} })).rejects.toThrow(
      /is locked: another offload server is using it/,
    );
  });
});

describeWithPostgres(pgEnv, 'startServer on PostgreSQL', () => {
  const schemas: string[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    for (const schema of schemas.splice(0)) await dropSchema(pgEnv.url, schema);
  });

  /** The test database's URL, in a fresh schema (the `schema` parameter), optionally through another port. */
  const storeUrl = (port?: number): string => {
    const url = new URL(pgEnv.url);
    if (port !== undefined) {
      url.hostname = '127.0.0.1';
      url.port = String(port);
    }
    const schema = freshSchemaName();
    schemas.push(schema);
    url.searchParams.set('schema', schema);
    return url.toString();
  };
  const start = async (store: string, logger = pino({ level: 'silent' })) => {
    const config = loadServerConfig({
      env: {},
      flags: { dataDir: path.join(dir, 'data'), port: '0', store, storePoolSize: '2' },
      cwd: dir,
    });
    const server = await startServer({ config, logger, env: {} });
    servers.push(server);
    return server;
  };
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await request(url, { headers });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
  };

  it('opens a postgres:// store in the schema the URL names and serves the API from it', async () => {
    const store = storeUrl();
    const server = await start(store);
    expect(server.store.capabilities.multiServer).toBe(true);
    expect((await get(server.url + '/readyz')).status).toBe(200);
    const admin = { authorization: `Bearer ${server.admin.token}` };
    expect((await get(`${server.url}/api/v1/jobs`, admin)).status).toBe(200);
    const tables = await queryTestDatabase(
      pgEnv.url,
      'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
      [new URL(store).searchParams.get('schema'), 'jobs'],
    );
    expect(tables.rowCount).toBe(1);
  });

  it('keeps running when the database goes away: /readyz and requests answer 503, then recover', async () => {
    const proxy = await tcpProxy(new URL(pgEnv.url));
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    try {
      const server = await start(storeUrl(proxy.port), logger);
      const admin = { authorization: `Bearer ${server.admin.token}` };
      expect((await get(server.url + '/readyz')).status).toBe(200);

      await proxy.cut();
      // The pool's idle connections die; the server logs it and stays up.
      await vi.waitFor(() => expect(lines.join('')).toContain('a PostgreSQL connection failed'));
      const ready = await get(server.url + '/readyz');
      expect(ready).toMatchObject({ status: 503, body: { error: { code: 'NOT_READY' } } });
      expect(ready.body.error.message).toMatch(/the store does not answer/);
      const jobs = await get(`${server.url}/api/v1/jobs`, admin);
      expect(jobs).toMatchObject({ status: 503, body: { error: { code: 'NOT_READY' } } });

      await proxy.restore();
      await vi.waitFor(async () => expect((await get(server.url + '/readyz')).status).toBe(200));
      expect((await get(`${server.url}/api/v1/jobs`, admin)).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });
});

/**
 * A TCP proxy to the test database that the test can cut (close the port, drop every
 * connection: the database "goes away") and restore on the same port.
 */
async function tcpProxy(target: URL): Promise<{
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  let listener: net.Server | undefined;
  let port = 0;
  const listen = async () => {
    listener = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    const l = listener;
    await new Promise<void>((resolve) => l.listen(port, '127.0.0.1', resolve));
    port = (l.address() as net.AddressInfo).port;
  };
  const cut = async () => {
    const l = listener;
    listener = undefined;
    for (const s of sockets) s.destroy();
    if (l) await new Promise((resolve) => l.close(resolve));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
