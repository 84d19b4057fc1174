import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KeyCreated, Scope } from '@offload/protocol';
import { buildApp, createAdminToken, resolveServerConfig, type App } from '@offload/server';
import { openSqliteStore, type Store } from '@offload/store';

/**
 * A real offload server (SQLite in a temp dir, the real clock) listening on a free port of
 * 127.0.0.1, for the SDK to talk to over real HTTP. Built the way the server's own tests build
 * theirs (packages/server/test/test-server.ts), but listening instead of `inject()`ing.
 */
export interface RealServer {
  url: string;
  adminToken: string;
  app: App;
  store: Store;
  /** A new API key with these scopes. */
  createKey(scopes: Scope[], extra?: Record<string, unknown>): Promise<string>;
  /** A new join token for an agent. */
  joinToken(): Promise<string>;
  close(): Promise<void>;
}

export async function startRealServer(): Promise<RealServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'offload-client-test-'));
  const store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
  const config = resolveServerConfig({ dataDir: dir, leaseTimeoutMs: 5_000, tierGraceMs: 0 }, {});
  const app = await buildApp({ store, config, startMaintenance: false });
  const adminToken = await createAdminToken(store, Date.now(), 'admin_test');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const createCredential = async (body: Record<string, unknown>): Promise<string> => {
    const res = await fetch(`${url}/api/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as KeyCreated).token;
  };

  return {
    url,
    adminToken,
    app,
    store,
    createKey: (scopes, extra = {}) =>
      createCredential({ kind: 'api-key', name: `key-${scopes.join('-')}`, scopes, ...extra }),
    joinToken: () => createCredential({ kind: 'join-token', name: 'join' }),
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A bare `node:http` server whose every answer the test scripts; counts the requests it got. */
export interface ScriptedServer {
  url: string;
  requests: IncomingMessage[];
  close(): Promise<void>;
}

export async function startScriptedServer(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<ScriptedServer> {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req);
    req.resume();
    req.on('end', () => handler(req, res, requests.length));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
