import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RawConfig } from '@offload/server';
import { openPostgresStore } from '@offload/store';
import { dropSchema, freshSchemaName, type PostgresTestEnv } from '@offload/store/testing';
import { createTestServer, type TestServer } from './test-server.js';

/**
 * Several real servers (test servers driven with `app.inject()`, or over HTTP after
 * `listen()`) on one fresh PostgreSQL schema, each with its own store (pool, change feed,
 * leader campaign) as separate processes would have. Each has a hand-moved clock.
 */
export interface GroupServer extends TestServer {
  /** An admin token; credentials live in the shared schema, so it works on every server. */
  token: string;
  /** Listens on a free port of 127.0.0.1; returns the base URL. */
  listen(): Promise<string>;
}

export interface ServerGroup {
  servers: GroupServer[];
  schema: string;
  close(): Promise<void>;
}

export async function openServerGroup(
  env: PostgresTestEnv,
  n: number,
  options: GroupOptions = {},
): Promise<ServerGroup> {
  const schema = freshSchemaName();
  const servers: GroupServer[] = [];
  const close = async () => {
    await Promise.all(servers.map((s) => s.close()));
    await dropSchema(env.url, schema);
  };
  try {
    for (let i = 0; i < n; i++) servers.push(await openServer(env, schema, i, options));
    // Every feed listening before the test acts: what it sends is then heard.
    await Promise.all(servers.map((s) => s.app.offload.feed.whenListening()));
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { servers, schema, close };
}

export interface GroupOptions {
  startMaintenance?: boolean;
  config?: RawConfig;
  /** The database URL server `i` connects with (default: the test database's). */
  urlFor?: (i: number) => string;
}

/** Agent names are unique in the shared schema, not per server. */
let agents = 0;

async function openServer(
  env: PostgresTestEnv,
  schema: string,
  i: number,
  options: GroupOptions,
): Promise<GroupServer> {
  const store = await openPostgresStore({
    url: options.urlFor?.(i) ?? env.url,
    schema,
    poolSize: 4,
    leaderIntervalMs: 100,
    applicationName: `offload-test-${schema}-${i}`,
  });
  let server: TestServer;
  try {
    server = await createTestServer(options.config, {
      store,
      startMaintenance: options.startMaintenance ?? false,
      adminId: `admin_${i}`,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    ...server,
    token: server.adminToken,
    registerAgent: (overrides = {}) =>
      server.registerAgent({ name: `agent-${++agents}`, ...overrides }),
    async listen() {
      await server.app.listen({ port: 0, host: '127.0.0.1' });
      return `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    },
    close: () =>
      (closed ??= (async () => {
        await server.close();
        await store.close();
      })()),
  };
}

/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * An SSE client over real HTTP: collects events; `next(match)` resolves with the first
 * matching one (already received or still to come), failing after `ms`.
 */
export async function openSse(url: string, token: string) {
  const events: SseEvent[] = [];
  const wakers = new Set<() => void>();
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` }, agent: false });
    req.on('response', resolve);
    req.on('error', reject);
  });
  if (res.statusCode !== 200) throw new Error(`SSE ${url}: status ${res.statusCode}`);
  let buffer = '';
  res.setEncoding('utf8');
  res.on('data', (text: string) => {
    buffer += text;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) events.push({ event, data: data.join('\n') });
    }
    for (const w of wakers) w();
  });
  return {
    events,
    next(match: (e: SseEvent) => boolean, ms = 20_000): Promise<SseEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find(match);
          if (!hit) return;
          wakers.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          wakers.delete(check);
          reject(new Error(`no matching event in ${ms} ms; got ${JSON.stringify(events)}`));
        }, ms);
        wakers.add(check);
        check();
      });
    },
    close: () => res.destroy(),
  };
}
