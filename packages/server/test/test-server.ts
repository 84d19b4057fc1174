import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createManualClock, type ManualClock } from '@offload/core';
import type { AgentRegister, Job, KeyCreated, Scope } from '@offload/protocol';
import { openSqliteStore, type Store } from '@offload/store';
import { openTestPostgresStore, POSTGRES_URL_ENV, postgresTestEnv } from '@offload/store/testing';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import {
  buildApp,
  createAdminToken,
  resolveServerConfig,
  type App,
  type RawConfig,
} from '@offload/server';

/** The variable choosing the store the server's tests run on: `sqlite` (default) or `postgres`. */
export const TEST_STORE_ENV = 'OFFLOAD_TEST_STORE';

export type TestStoreKind = 'sqlite' | 'postgres';

/** The store kind OFFLOAD_TEST_STORE asks for; anything else is an error naming it. */
export function testStoreKind(env: NodeJS.ProcessEnv = process.env): TestStoreKind {
  const value = env[TEST_STORE_ENV] || 'sqlite';
  if (value === 'sqlite' || value === 'postgres') return value;
  throw new Error(`${TEST_STORE_ENV} must be "sqlite" or "postgres", got "${value}"`);
}

/** The store this test run uses; tests about one store only skip on the other with this. */
export const testStore: TestStoreKind = testStoreKind();

/**
 * A real server driven with `app.inject()` and a hand-moved clock, over a real store: a
 * SQLite file in a temp dir, or with OFFLOAD_TEST_STORE=postgres a fresh PostgreSQL schema
 * (dropped at close), or a store the caller opened and still owns (`options.store`).
 * Long polls still wait in wall time, so tests keep `waitMs` short.
 */
export interface TestServer {
  app: App;
  store: Store;
  /** Which store it runs on. */
  storeKind: TestStoreKind;
  clock: ManualClock;
  dir: string;
  adminToken: string;
  request<T = any>(
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    options?: { token?: string | null; body?: unknown; query?: Record<string, string> },
  ): Promise<{ status: number; body: T; headers: Record<string, unknown>; text: string }>;
  createKey(scopes: Scope[], extra?: Record<string, unknown>): Promise<string>;
  joinToken(extra?: Record<string, unknown>): Promise<string>;
  registerAgent(overrides?: Partial<AgentRegister>): Promise<TestAgent>;
  submit(spec: Record<string, unknown>, token?: string): Promise<Job>;
  close(): Promise<void>;
}

export interface TestAgent {
  id: string;
  name: string;
  secret: string;
  /** One sync: completions in, jobs out. */
  sync(body?: { max?: number; waitMs?: number; completions?: unknown[] }): Promise<SyncBody>;
}

export interface SyncBody {
  jobs: Array<{
    id: string;
    leaseId: string;
    attempt: number;
    gpus: number[];
    payload: Record<string, unknown>;
    name: string;
    queue: string;
    cpu: number;
    memoryMb: number;
    timeoutSec: number;
  }>;
  acks: Array<{ jobId: string; ok: boolean; code?: string }>;
  cancel: string[];
  drain: boolean;
}

export async function createTestServer(
  config: RawConfig = {},
  options: {
    startMaintenance?: boolean;
    /** The server's own logger (else none, or stderr with OFFLOAD_TEST_LOG=level). */
    logger?: FastifyBaseLogger;
    /** An open store to serve (the caller closes it); else one chosen by OFFLOAD_TEST_STORE. */
    store?: Store;
    /** The admin credential's id: servers sharing one store need one each. */
    adminId?: string;
    /** Puts something between the server and its store (a proxy that counts or fails calls). */
    wrapStore?: (store: Store) => Store;
  } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'offload-test-'));
  const opened = options.store
    ? { store: options.store, kind: kindOf(options.store), close: async () => undefined }
    : await openStoreFor(testStore, dir);
  const store = options.wrapStore ? options.wrapStore(opened.store) : opened.store;
  const clock = createManualClock(Date.now());
  const resolved = resolveServerConfig(
    { dataDir: dir, leaseTimeoutMs: 5_000, tierGraceMs: 0, ...config },
    {},
  );
  // OFFLOAD_TEST_LOG=debug shows the server's log while a test runs.
  const level = process.env.OFFLOAD_TEST_LOG;
  const app = await buildApp({
    store,
    config: resolved,
    clock,
    startMaintenance: options.startMaintenance ?? false,
    ...(level && { logger: pino({ level }, pino.destination(2)) }),
    ...(options.logger && { logger: options.logger }),
  });
  await app.ready();
  // As `offload server` does before it listens: on PostgreSQL /readyz is 503 until the change
  // feed listens, which under a loaded test run can take a moment.
  await app.offload.feed.whenListening(10_000);

  const adminToken = await createAdminToken(store, clock.now(), options.adminId ?? 'admin_test');

  const request: TestServer['request'] = async (method, url, opts = {}) => {
    const token = opts.token === undefined ? adminToken : opts.token;
    const res = await app.inject({
      method,
      url,
      ...(opts.query && { query: opts.query }),
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      ...(opts.body !== undefined && { payload: opts.body as object }),
    });
    let body: any = res.body;
    try {
      body = res.json();
    } catch {
      // text bodies (logs, metrics) stay text
    }
    return { status: res.statusCode, body, headers: res.headers, text: res.body };
  };

  const created = async (body: Record<string, unknown>): Promise<string> => {
    const res = await request<KeyCreated>('POST', '/api/v1/keys', { body });
    if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${res.text}`);
    return res.body.token;
  };

  let agentCount = 0;
  const server: TestServer = {
    app,
    store,
    storeKind: opened.kind,
    clock,
    dir,
    adminToken,
    request,
    createKey: (scopes, extra = {}) =>
      created({ kind: 'api-key', name: `key-${scopes.join('-')}`, scopes, ...extra }),
    joinToken: (extra = {}) => created({ kind: 'join-token', name: 'join', ...extra }),
    async registerAgent(overrides = {}) {
      const join = await server.joinToken();
      const body: AgentRegister = {
        name: `agent-${++agentCount}`,
        capabilities: [],
        resources: { cpu: 4, memoryMb: 8_192, gpus: [] },
        maxJobs: 10,
        ...overrides,
      };
      const res = await request('POST', '/api/v1/agent/register', { token: join, body });
      if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
      const secret: string = res.body.secret;
      return {
        id: res.body.agent.id,
        name: body.name,
        secret,
        async sync(b = {}) {
          const r = await request<SyncBody>('POST', '/api/v1/agent/sync', {
            token: secret,
            body: {
              max: b.max ?? 10,
              waitMs: b.waitMs ?? 0,
              ...(b.completions && { completions: b.completions }),
            },
          });
          if (r.status !== 200) throw new Error(`sync failed: ${r.status} ${r.text}`);
          return r.body;
        },
      };
    },
    async submit(spec, token) {
      const res = await request<Job>('POST', '/api/v1/jobs', {
        body: spec,
        ...(token !== undefined && { token }),
      });
      if (res.status !== 201 && res.status !== 200)
        throw new Error(`submit failed: ${res.status} ${res.text}`);
      return res.body;
    },
    async close() {
      await app.close();
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A store of the kind asked for, and how to close it (a PostgreSQL schema is dropped too). */
async function openStoreFor(
  kind: TestStoreKind,
  dir: string,
): Promise<{ store: Store; kind: TestStoreKind; close(): Promise<void> }> {
  if (kind === 'sqlite') {
    const store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
    return { store, kind, close: () => store.close() };
  }
  const env = await postgresTestEnv();
  // vitest.config.ts leaves the postgres run out when PostgreSQL is unreachable (one line
  // naming the variable), except under CI=true; so this is reached only when it was asked for.
  if (!env.available) {
    throw new Error(
      `${TEST_STORE_ENV}=postgres: no PostgreSQL at ${env.url} (${env.reason ?? 'unreachable'}); set ${POSTGRES_URL_ENV} to one`,
    );
  }
  const pg = await openTestPostgresStore(env);
  return { store: pg.store, kind, close: () => pg.cleanup() };
}

/** PostgreSQL is the store that several servers can share; SQLite is not. */
function kindOf(store: Store): TestStoreKind {
  return store.capabilities.multiServer ? 'postgres' : 'sqlite';
}
