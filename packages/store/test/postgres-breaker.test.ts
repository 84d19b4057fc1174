import { openPostgresStore, type Store } from '@offload/store';
import {
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  makeJob,
  postgresTestEnv,
  submit,
} from '@offload/store/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TcpProxy } from '../../../tests/chaos/tcp-proxy.js';
import {
  BREAKER_MAX_MS,
  BREAKER_MIN_MS,
  ConnectionBreaker,
} from '../src/postgres/postgres-context.js';

const env = await postgresTestEnv();

/** The breaker's own error: refused without trying. */
const BREAKER_MESSAGE = /the PostgreSQL database is unreachable .*calls fail at once/;

describe('ConnectionBreaker', () => {
  it('pauses 100 ms after a failure, doubling on each failed try up to 5 s; one try at a time', () => {
    let now = 0;
    const breaker = new ConnectionBreaker(() => now);
    const lost = new Error('connect ECONNREFUSED');
    breaker.failed(breaker.admit(), lost);
    const pauses: number[] = [];
    let opened = now;
    for (let i = 0; i < 9; i++) {
      // Refused until the pause is over, then one call — and only one — tries.
      let admitted: number | undefined;
      while (admitted === undefined) {
        try {
          admitted = breaker.admit();
        } catch (err) {
          expect(err).toMatchObject({
            code: '08006',
            message: expect.stringMatching(BREAKER_MESSAGE),
          });
          now += 10;
        }
      }
      pauses.push(now - opened);
      expect(() => breaker.admit()).toThrow(/a try is under way/);
      breaker.failed(admitted, lost);
      opened = now;
    }
    expect(pauses).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
    expect(pauses[0]).toBe(BREAKER_MIN_MS);
    expect(Math.max(...pauses)).toBe(BREAKER_MAX_MS);
  });

  it('counts the calls in flight when the database went away as one failure, and closes on a success', () => {
    let now = 0;
    const breaker = new ConnectionBreaker(() => now);
    const inFlight = Array.from({ length: 10 }, () => breaker.admit());
    for (const ticket of inFlight) breaker.failed(ticket, new Error('Connection terminated'));
    now += BREAKER_MIN_MS; // one pause of 100 ms, not ten doublings
    const attempt = breaker.admit();
    breaker.succeeded(inFlight[0]!); // a call from before the outage proves nothing
    expect(breaker.open).toBe(true);
    breaker.succeeded(attempt);
    expect(breaker.open).toBe(false);
    expect(() => breaker.admit()).not.toThrow();
    breaker.failed(breaker.admit(), new Error('Connection terminated'));
    breaker.reset(); // a new connection (the readiness ping's) closes it at once
    expect(() => breaker.admit()).not.toThrow();
  });
});

/**
 * The breaker on a real PostgreSQL, through a TCP proxy the test cuts: refused (the port
 * closed) and a black hole (connections accepted, nothing forwarded).
 */
describeWithPostgres(env, 'postgres store: calls while the database is unreachable', () => {
  let schema = '';
  let proxy: TcpProxy;
  let store: Store;

  beforeEach(async () => {
    schema = freshSchemaName();
    const target = new URL(env.url);
    proxy = await new TcpProxy({
      host: target.hostname,
      port: Number(target.port || 5432),
    }).listen();
    const url = new URL(env.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    store = await openPostgresStore({
      url: url.toString(),
      schema,
      poolSize: 4,
      statementTimeoutMs: 500, // the read timeout is 2.5 s
      connectTimeoutMs: 1_000,
    });
    await submit(store, makeJob());
  });
  afterEach(async () => {
    await store.close();
    await proxy.close();
    await dropSchema(env.url, schema);
  });

  /** Calls the store until the breaker's error says the next try is at least `ms` away. */
  const untilPauseReaches = async (ms: number): Promise<void> => {
    for (;;) {
      const err = (await store.countsByState().catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      const m = /next try in (\d+) ms/.exec(err.message);
      if (m && Number(m[1]) >= ms) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('refused: fails calls at once with 08006 after the first failure; ping always tries; back by itself', async () => {
    await proxy.refuse();
    const errors: Error[] = [];
    for (let i = 0; i < 20; i++)
      errors.push((await store.jobGet({ id: 'x' }).catch((e: unknown) => e)) as Error);
    for (const err of errors)
      expect((err as { code?: string }).code, err.message).toMatch(/^(08006|ECONNREFUSED)$/);
    expect(errors[0]!.message).not.toMatch(BREAKER_MESSAGE); // the first one tried
    expect(errors.filter((e) => BREAKER_MESSAGE.test(e.message)).length).toBeGreaterThan(0);

    // The pause grows with each failed try; the readiness ping still tries every time.
    await untilPauseReaches(1_000);
    const ping = (await store.ping().catch((e: unknown) => e)) as Error;
    expect(ping).toBeInstanceOf(Error);
    expect(ping.message).not.toMatch(BREAKER_MESSAGE);

    // Back: a ping that connects closes the breaker — the next call need not wait out its pause.
    await proxy.restore();
    await store.ping();
    expect((await store.countsByState()).queued).toBe(1);
  });

  it('black hole: every wait is bounded, and while one try waits the other calls fail at once', async () => {
    const before = proxy.accepted;
    proxy.stall();
    // The pooled connection goes unanswered: the read timeout (statement timeout + 2 s) ends the wait.
    const first = (await store.countsByState().catch((e: unknown) => e)) as Error;
    expect(first).toMatchObject({ code: '08006' });
    expect(first.message).toMatch(/Query read timeout|timeout exceeded when trying to connect/);

    // Forty calls at once: at most one tries (and waits for its timeout); the others fail at
    // once, opening no connection.
    await new Promise((r) => setTimeout(r, BREAKER_MIN_MS));
    const opened = proxy.accepted;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => store.countsByState()),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const reasons = results.map((r) => (r as PromiseRejectedResult).reason as Error);
    expect(reasons.every((e) => (e as { code?: string }).code === '08006')).toBe(true);
    expect(reasons.filter((e) => !BREAKER_MESSAGE.test(e.message)).length).toBeLessThanOrEqual(1);
    expect(proxy.accepted - opened).toBeLessThanOrEqual(1);

    // The readiness ping tries, and its wait is bounded too (connect or read timeout).
    await expect(store.ping()).rejects.toMatchObject({ code: '08006' });
    expect(proxy.accepted).toBeGreaterThan(before);

    await proxy.restore();
    await vi.waitFor(async () => expect((await store.countsByState()).queued).toBe(1), {
      timeout: 20_000,
      interval: 100,
    });
  });
});
