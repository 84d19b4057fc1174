import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentClient, OffloadNetworkError } from '@offload/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWERED_MAX_MS, backoffDelay } from '../src/daemon/connection.js';

const opts = { reconnectBaseMs: 250, reconnectMaxMs: 15_000 };
const highest = () => 0.999_999;

/** A server whose store is away: every request is answered 503 NOT_READY, as offload's does. */
let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'NOT_READY', message: 'the store is unavailable' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('backoffDelay', () => {
  it('grows to the reconnect cap for a server that does not answer', () => {
    const unreachable = new OffloadNetworkError(url, 1, new Error('connect ECONNREFUSED'));
    expect(backoffDelay(2, unreachable, 1, opts, highest)).toBe(999);
    expect(backoffDelay(10, unreachable, 1, opts, highest)).toBe(14_999);
  });

  it('stops at a few seconds for a server that answered 503 (its store is away)', async () => {
    const client = new AgentClient({ url, retries: 0, timeoutMs: 5_000 });
    const answered = await client.sync({ max: 0, waitMs: 0 }).catch((err: unknown) => err);
    await client.close();
    expect(answered).toMatchObject({ status: 503, code: 'NOT_READY' });
    // Before: 15 s after ten 503s — agents sat idle long after a short database outage.
    expect(backoffDelay(10, answered, 1, opts, highest)).toBe(ANSWERED_MAX_MS - 1);
    expect(backoffDelay(2, answered, 1, opts, highest)).toBe(999);
  });

  it('tries the next server at once after the first failure', () => {
    expect(
      backoffDelay(
        1,
        new OffloadNetworkError(url, 1, new Error('socket hang up')),
        3,
        opts,
        highest,
      ),
    ).toBe(0);
    expect(
      backoffDelay(
        1,
        new OffloadNetworkError(url, 1, new Error('socket hang up')),
        1,
        opts,
        highest,
      ),
    ).toBe(499);
  });
});
