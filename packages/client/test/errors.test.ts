import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_ERRORS } from '@offload/protocol';
import {
  ApiErrorClasses,
  Offload,
  OffloadApiError,
  OffloadError,
  OffloadNetworkError,
  OffloadTimeoutError,
  createUndiciTransport,
  type Transport,
} from '@offload/client';
import {
  deadPort,
  startRealServer,
  startScriptedServer,
  type RealServer,
  type ScriptedServer,
} from './real-server.js';

const fast = { retryDelayMs: 1, retryMaxDelayMs: 5 };
const JOB = {
  id: 'job_1',
  name: 'x',
  kind: 'command',
  queue: 'default',
  state: 'queued',
  attempt: 1,
};

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

describe('typed errors from a real server', () => {
  let srv: RealServer;
  let off: Offload;
  beforeAll(async () => {
    srv = await startRealServer();
    off = new Offload({ url: srv.url, apiKey: srv.adminToken });
  });
  afterAll(async () => {
    await off.close();
    await srv.close();
  });

  it('404 → JOB_NOT_FOUND, its own class in the hierarchy', async () => {
    const err = await off.get('job_missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.JOB_NOT_FOUND);
    expect(err).toBeInstanceOf(OffloadApiError);
    expect(err).toBeInstanceOf(OffloadError);
    expect(err).not.toBeInstanceOf(ApiErrorClasses.AGENT_NOT_FOUND);
    expect(err).toMatchObject({ code: 'JOB_NOT_FOUND', status: 404, name: 'JobNotFoundError' });
    expect((err as Error).message).toContain('job_missing');
    expect(OffloadApiError.is(err, 'JOB_NOT_FOUND')).toBe(true);
  });

  it('401 for an unknown key and for none', async () => {
    for (const apiKey of ['offk_wrong', undefined]) {
      const c = new Offload({ url: srv.url, apiKey });
      const err = await c.stats().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiErrorClasses.UNAUTHORIZED);
      expect(err).toMatchObject({ status: 401 });
      await c.close();
    }
  });

  it('403 for a key lacking the scope', async () => {
    const reader = new Offload({ url: srv.url, apiKey: await srv.createKey(['read']) });
    const err = await reader.submit({ task: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.FORBIDDEN);
    expect(err).toMatchObject({ code: 'FORBIDDEN', status: 403 });

    const submitter = new Offload({ url: srv.url, apiKey: await srv.createKey(['submit']) });
    const shell = await submitter.submit({ command: 'ls' }).catch((e: unknown) => e);
    expect(shell).toBeInstanceOf(ApiErrorClasses.FORBIDDEN);
    expect((shell as Error).message).toContain('shell');
    await reader.close();
    await submitter.close();
  });

  it('400 VALIDATION_FAILED with the field details', async () => {
    const bad = { command: 'ls', colour: 'red' } as unknown as Parameters<Offload['submit']>[0];
    const err = await off.submit(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.VALIDATION_FAILED);
    const v = err as OffloadApiError;
    expect(v.status).toBe(400);
    expect(v.details).toEqual([
      { field: '/colour', message: expect.stringContaining('not a known field') },
    ]);
  });
});

describe('errors and retries over the wire', () => {
  let scripted: ScriptedServer | undefined;
  afterEach(async () => {
    await scripted?.close();
    scripted = undefined;
  });

  it('retries a 503 with backoff and succeeds on the third try', async () => {
    scripted = await startScriptedServer((_req, res, n) =>
      n <= 2
        ? json(res, 503, { error: { code: 'NOT_READY', message: 'starting' } })
        : json(res, 200, JOB),
    );
    const off = new Offload({ url: scripted.url, apiKey: 'k', ...fast });
    expect(await off.get('job_1')).toMatchObject({ id: 'job_1' });
    expect(scripted.requests).toHaveLength(3);
    expect(scripted.requests[0]?.headers.authorization).toBe('Bearer k');
    await off.close();
  });

  it('retries a submit without idempotencyKey on 503 (the server applied nothing)', async () => {
    scripted = await startScriptedServer((_req, res, n) =>
      n === 1
        ? json(res, 503, { error: { code: 'NOT_READY', message: 'x' } })
        : json(res, 201, JOB),
    );
    const off = new Offload({ url: scripted.url, ...fast });
    expect((await off.submit({ command: 'true' })).id).toBe('job_1');
    expect(scripted.requests).toHaveLength(2);
    await off.close();
  });

  it('gives up after `retries` and throws NOT_READY', async () => {
    scripted = await startScriptedServer((_req, res) =>
      json(res, 503, { error: { code: 'NOT_READY', message: 'store down' } }),
    );
    const off = new Offload({ url: scripted.url, retries: 2, ...fast });
    const err = await off.stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.NOT_READY);
    expect(scripted.requests).toHaveLength(3);
    await off.close();
  });

  it('never retries a 400', async () => {
    scripted = await startScriptedServer((_req, res) =>
      json(res, 400, {
        error: {
          code: 'VALIDATION_FAILED',
          message: '/x: bad',
          details: [{ field: '/x', message: 'bad' }],
        },
      }),
    );
    const off = new Offload({ url: scripted.url, ...fast });
    const err = await off.get('job_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.VALIDATION_FAILED);
    expect((err as OffloadApiError).details).toEqual([{ field: '/x', message: 'bad' }]);
    expect(scripted.requests).toHaveLength(1);
    await off.close();
  });

  it('honours Retry-After on 429', async () => {
    scripted = await startScriptedServer((_req, res, n) =>
      n === 1
        ? json(
            res,
            429,
            { error: { code: 'RATE_LIMITED', message: 'slow down' } },
            { 'retry-after': '1' },
          )
        : json(res, 200, JOB),
    );
    const off = new Offload({ url: scripted.url, ...fast });
    const start = Date.now();
    await off.get('job_1');
    expect(Date.now() - start).toBeGreaterThanOrEqual(950);
    expect(scripted.requests).toHaveLength(2);
    await off.close();
  });

  it('keeps the request id, maps unknown codes and non-JSON answers', async () => {
    scripted = await startScriptedServer((req, res) => {
      if (req.url?.includes('newer')) {
        json(
          res,
          422,
          { error: { code: 'SHINY_NEW', message: 'from the future' } },
          { 'x-request-id': 'r1' },
        );
      } else {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<h1>Bad Gateway</h1>');
      }
    });
    const off = new Offload({ url: scripted.url, ...fast });
    const newer = await off.get('newer').catch((e: unknown) => e);
    expect(newer).toBeInstanceOf(OffloadApiError);
    expect(newer).toMatchObject({
      code: 'SHINY_NEW',
      status: 422,
      requestId: 'r1',
      name: 'OffloadApiError',
    });
    const proxy = await off.get('x').catch((e: unknown) => e);
    expect(proxy).toMatchObject({ code: 'HTTP_502', status: 502 });
    expect((proxy as Error).message).toContain('Bad Gateway');
    await off.close();
  });

  it('connection refused → OffloadNetworkError naming the URL, after the retries', async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const off = new Offload({ url, retries: 2, ...fast });
    for (const call of [() => off.get('job_1'), () => off.submit({ command: 'true' })]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OffloadNetworkError);
      const n = err as OffloadNetworkError;
      expect(n.url).toBe(url);
      expect(n.attempts).toBe(3); // a refused connect sent nothing: even a bare submit is retried
      expect(n.message).toContain(url);
      expect(n.message).toContain('check that it is running');
      expect(n.message).toContain('ECONNREFUSED');
      expect(n.cause).toBeDefined();
    }
    await off.close();
  });

  it('does not resend a submit without idempotencyKey after the connection dropped mid-request', async () => {
    scripted = await startScriptedServer((req) => req.socket.destroy());
    const off = new Offload({ url: scripted.url, retries: 2, ...fast });
    const err = await off.submit({ command: 'true' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadNetworkError);
    expect(scripted.requests).toHaveLength(1);

    await off.submit({ command: 'true', idempotencyKey: 'k1' }).catch(() => undefined);
    expect(scripted.requests).toHaveLength(4);
    await off.get('job_1').catch(() => undefined);
    expect(scripted.requests).toHaveLength(7);
    await off.close();
  });

  it('times out a request that gets no answer, retrying only what is idempotent', async () => {
    scripted = await startScriptedServer(() => undefined);
    const off = new Offload({ url: scripted.url, timeoutMs: 100, retries: 1, ...fast });
    const err = await off.get('job_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadTimeoutError);
    expect(err).toMatchObject({ timeoutMs: 100 });
    expect((err as Error).message).toContain(scripted.url);
    expect((err as Error).cause).toBeDefined();
    expect(scripted.requests).toHaveLength(2);

    await expect(off.submit({ command: 'true' })).rejects.toBeInstanceOf(OffloadTimeoutError);
    expect(scripted.requests).toHaveLength(3);
    await off.close();
  });

  it('times out a body that stops halfway', async () => {
    scripted = await startScriptedServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
    });
    const off = new Offload({ url: scripted.url, timeoutMs: 100, retries: 0 });
    const err = await off.get('job_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadTimeoutError);
    expect(err).toMatchObject({ timeoutMs: 100 });
    await off.close();
  });

  it('times requests over fetch, and over a transport that does not time them itself', async () => {
    scripted = await startScriptedServer(() => undefined);
    const overFetch = new Offload({
      url: scripted.url,
      fetch: (input, init) => fetch(input, init),
      timeoutMs: 100,
      retries: 0,
    });
    await expect(overFetch.get('job_1')).rejects.toBeInstanceOf(OffloadTimeoutError);
    await overFetch.close();

    // A transport written before `timesRequests`: it ignores `timeoutMs`, so the SDK's own
    // signal must end the request.
    const inner = createUndiciTransport({ url: scripted.url });
    const seen: Array<number | undefined> = [];
    const legacy: Transport = {
      url: inner.url,
      request: (req) => {
        seen.push(req.timeoutMs);
        return inner.request({ ...req, timeoutMs: undefined });
      },
      close: () => inner.close(),
    };
    const off = new Offload({ url: scripted.url, transport: legacy, timeoutMs: 100, retries: 0 });
    await expect(off.get('job_1')).rejects.toBeInstanceOf(OffloadTimeoutError);
    expect(seen).toEqual([undefined]);
    await off.close();
  });

  it('a long poll gets its hold time on top of the timeout; an abort rejects with the reason', async () => {
    scripted = await startScriptedServer((_req, res) => {
      setTimeout(() => json(res, 200, { ...JOB, state: 'succeeded' }), 300);
    });
    const off = new Offload({ url: scripted.url, timeoutMs: 100, retries: 0 });
    expect((await off.wait('job_1', { timeoutSec: 1 })).state).toBe('succeeded');

    const ac = new AbortController();
    const waiting = off.wait('job_1', { signal: ac.signal });
    ac.abort(new Error('user gave up'));
    await expect(waiting).rejects.toThrow('user gave up');
    await off.close();
  });
});

describe('the error registry', () => {
  it('has one class per API_ERRORS code, named after it', () => {
    expect(Object.keys(ApiErrorClasses).sort()).toEqual(Object.keys(API_ERRORS).sort());
    expect(ApiErrorClasses.LEASE_STALE.name).toBe('LeaseStaleError');
    const e = new ApiErrorClasses.PAYLOAD_TOO_LARGE({ status: 413, message: 'big' });
    expect(e).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', name: 'PayloadTooLargeError' });
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => new Offload({ url: 'localhost:7070' })).toThrow(/http/);
    expect(() => new Offload({ url: 'not a url' })).toThrow(/not a URL/);
  });
});
