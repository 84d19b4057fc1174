import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createManualClock, type ManualClock } from '@offload/core';
import type { AgentRegister, Job, KeyCreated, Scope } from '@offload/protocol';
import { openSqliteStore, type Store } from '@offload/store';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import {
  buildApp,
  createAdminToken,
  resolveServerConfig,
  type App,
  type RawConfig,
} from '@offload/server';

/**
 * A real server over a real SQLite file in a temp dir, driven with `app.inject()` and a
 * hand-moved clock. Long polls still wait in wall time, so tests keep `waitMs` short.
 */
export interface TestServer {
  app: App;
  store: Store;
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
  } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'offload-test-'));
  const store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
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

  const adminToken = await createAdminToken(store, clock.now(), 'admin_test');

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
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
