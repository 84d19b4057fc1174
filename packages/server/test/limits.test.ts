import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('request rate per API key (rateLimit)', () => {
  it('answers 429 with Retry-After past the burst, per key; the admin token is not limited', async () => {
    t = await createTestServer({ rateLimit: 2 }); // a bucket of 4, refilled at 2/s
    const key = await t.createKey(['read']);
    const other = await t.createKey(['read']);
    const statuses: number[] = [];
    let limited:
      | { body: { error: { code: string; message: string } }; headers: Record<string, unknown> }
      | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await t.request('GET', '/api/v1/jobs', { token: key });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses).toContain(429);
    expect(limited!.body.error.code).toBe('RATE_LIMITED');
    expect(limited!.body.error.message).toMatch(/key "key-read" is over its limit.*rateLimit/);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another key has its own bucket; the admin token has none.
    expect((await t.request('GET', '/api/v1/jobs', { token: other })).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await t.request('GET', '/api/v1/jobs')).status).toBe(200);
  });

  it('0 turns the limit off', async () => {
    t = await createTestServer({ rateLimit: 0 });
    const key = await t.createKey(['read']);
    for (let i = 0; i < 50; i++)
      expect((await t.request('GET', '/api/v1/jobs', { token: key })).status).toBe(200);
  });
});

describe('open streams per credential (streamsPerKey)', () => {
  it('refuses a stream past the cap with 429, and takes one again once a stream closes', async () => {
    t = await createTestServer({ streamsPerKey: 2 });
    const key = await t.createKey(['read']);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    const open = () =>
      request(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${key}` } });
    const first = await open();
    const second = await open();
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    const third = await open();
    expect(third.statusCode).toBe(429);
    expect(third.headers['retry-after']).toBe('5');
    expect(((await third.body.json()) as { error: { message: string } }).error.message).toMatch(
      /2 event or log streams open.*streamsPerKey/,
    );
    // The admin token counts separately.
    const admin = await request(`${base}/api/v1/events`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(admin.statusCode).toBe(200);
    first.body.destroy();
    let again = await open();
    for (let i = 0; again.statusCode === 429 && i < 50; i++) {
      await again.body.dump();
      await new Promise((r) => setTimeout(r, 20)); // the server sees the close a moment later
      again = await open();
    }
    expect(again.statusCode).toBe(200);
    for (const r of [second, again, admin]) r.body.destroy();
  });
});
