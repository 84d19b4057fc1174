import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Job, KeyCreated } from '@offload/protocol';
import { buildApp, createAdminToken, resolveServerConfig, type App } from '@offload/server';
import { openSqliteStore, type Store } from '@offload/store';

/**
 * A real server (SQLite in a temp dir, real clock) listening on 127.0.0.1 for the daemon
 * tests. `restart()` closes the HTTP app but keeps the store, then listens again on the same
 * port: a server restart as an agent sees it.
 */
export interface DaemonTestServer {
  url: string;
  port: number;
  adminToken: string;
  store: Store;
  joinToken(): Promise<string>;
  submit(spec: Record<string, unknown>): Promise<Job>;
  get(id: string): Promise<Job>;
  /** Waits (server-side long poll) until the job is terminal. */
  wait(id: string, timeoutSec?: number): Promise<Job>;
  waitState(id: string, state: string, timeoutMs?: number): Promise<Job>;
  cancel(id: string): Promise<void>;
  /** POST with the admin token; returns the status. */
  post(p: string, body?: unknown): Promise<number>;
  logs(id: string): Promise<string>;
  stopApp(): Promise<void>;
  /** A second app over the same store on its own port (two servers, one store). */
  secondApp(): Promise<{ url: string; close(): Promise<void> }>;
  startApp(): Promise<void>;
  close(): Promise<void>;
}

export async function startDaemonTestServer(
  leaseTimeoutMs = 5_000,
  options: { maintenance?: boolean } = {},
): Promise<DaemonTestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'offload-daemon-test-'));
  const store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
  const config = resolveServerConfig({ dataDir: dir, leaseTimeoutMs, tierGraceMs: 0 }, {});
  const adminToken = await createAdminToken(store, Date.now(), 'admin_test');
  let app: App | undefined;
  const extra: App[] = [];
  let port = 0;
  const startApp = async () => {
    app = await buildApp({ store, config, startMaintenance: options.maintenance ?? false });
    await app.listen({ port, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  };
  await startApp();
  const url = `http://127.0.0.1:${port}`;

  const call = async <T>(method: string, p: string, body?: unknown): Promise<[number, T]> => {
    const res = await fetch(`${url}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // text body (logs)
    }
    return [res.status, parsed as T];
  };

  const server: DaemonTestServer = {
    url,
    port,
    adminToken,
    store,
    async joinToken() {
      const [status, body] = await call<KeyCreated>('POST', '/api/v1/keys', {
        kind: 'join-token',
        name: 'join',
      });
      if (status !== 201) throw new Error(`join token: ${status}`);
      return body.token;
    },
    async submit(spec) {
      const [status, job] = await call<Job>('POST', '/api/v1/jobs', spec);
      if (status !== 201) throw new Error(`submit: ${status} ${JSON.stringify(job)}`);
      return job;
    },
    async get(id) {
      return (await call<Job>('GET', `/api/v1/jobs/${id}`))[1];
    },
    async wait(id, timeoutSec = 20) {
      return (await call<Job>('GET', `/api/v1/jobs/${id}/wait?timeoutSec=${timeoutSec}`))[1];
    },
    async waitState(id, state, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await server.get(id);
        if (job.state === state) return job;
        if (Date.now() > deadline)
          throw new Error(`job ${id} is ${job.state}, not ${state}, after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async cancel(id) {
      const [status] = await call('POST', `/api/v1/jobs/${id}/cancel`, {});
      if (status >= 300) throw new Error(`cancel: ${status}`);
    },
    async post(p, body = {}) {
      return (await call('POST', p, body))[0];
    },
    async logs(id) {
      const [, text] = await call<unknown>('GET', `/api/v1/jobs/${id}/logs`);
      return typeof text === 'string' ? text : JSON.stringify(text);
    },
    async stopApp() {
      await app?.close();
      app = undefined;
    },
    startApp,
    async secondApp() {
      const other = await buildApp({ store, config, startMaintenance: false });
      await other.listen({ port: 0, host: '127.0.0.1' });
      const { port: p } = other.server.address() as AddressInfo;
      extra.push(other);
      return { url: `http://127.0.0.1:${p}`, close: () => other.close() };
    },
    async close() {
      for (const a of extra.splice(0)) await a.close();
      await app?.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
