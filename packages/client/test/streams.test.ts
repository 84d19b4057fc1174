import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiErrorClasses, Offload, type OffloadEvent } from '@offload/client';
import { parseSse } from '../src/sse.js';
import { startScriptedServer, type ScriptedServer } from './real-server.js';

const fast = { retryDelayMs: 1, retryMaxDelayMs: 5 };

function openSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(': hello\n\n');
}
const job = (id: string, state = 'queued') => JSON.stringify({ id, state });

/** Resolves when the server sees the client close this request's connection. */
const closedBy = (req: IncomingMessage) =>
  new Promise<void>((resolve) => req.socket.once('close', () => resolve()));

let scripted: ScriptedServer | undefined;
afterEach(async () => {
  await scripted?.close();
  scripted = undefined;
});

describe('events: reconnect and resume', () => {
  it('reconnects when the server ends the stream, sending Last-Event-ID, and close() closes it', async () => {
    let second: IncomingMessage | undefined;
    scripted = await startScriptedServer((req, res, n) => {
      openSse(res);
      if (n === 1) {
        res.end(`id: 1\nevent: job.created\ndata: ${job('job_a')}\n\n`);
      } else {
        second = req;
        res.write(`id: 2\nevent: job.succeeded\ndata: ${job('job_a', 'succeeded')}\n\n`);
      }
    });
    const off = new Offload({ url: scripted.url, apiKey: 'k', ...fast });
    const events = off.events({ jobId: 'job_a', types: ['job.*'] });
    const seen: OffloadEvent[] = [];
    for await (const ev of events) {
      seen.push(ev);
      if (seen.length === 2) break;
    }
    expect(seen.map((e) => e.type)).toEqual(['job.created', 'job.succeeded']);
    expect(scripted.requests[0]?.url).toBe('/api/v1/events?jobId=job_a&types=job.*');
    expect(scripted.requests[1]?.headers['last-event-id']).toBe('1');
    expect(second).toBeDefined();
    await closedBy(second!); // the break closed the connection
    await off.close();
  });

  it('drops a silent connection after the idle timeout and reconnects', async () => {
    scripted = await startScriptedServer((_req, res, n) => {
      openSse(res);
      res.write(`event: agent.online\ndata: {"id":"a${n}","name":"box"}\n\n`);
      // then silence, the connection left open
    });
    const off = new Offload({ url: scripted.url, ...fast });
    const events = off.events({ idleTimeoutMs: 100 });
    const a = await events.next();
    const b = await events.next();
    await events.close();
    expect([a.value, b.value].map((e) => (e && 'agent' in e ? e.agent.id : ''))).toEqual([
      'a1',
      'a2',
    ]);
    expect(scripted.requests).toHaveLength(2);
    await off.close();
  });

  it('keeps reconnecting through 503s, and throws what retrying cannot fix', async () => {
    scripted = await startScriptedServer((_req, res, n) => {
      if (n === 1) {
        openSse(res);
        res.end(`event: job.created\ndata: ${job('j')}\n\n`);
      } else if (n <= 3) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"NOT_READY","message":"restarting"}}');
      } else {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"UNAUTHORIZED","message":"revoked"}}');
      }
    });
    const off = new Offload({ url: scripted.url, ...fast });
    const events = off.events();
    expect((await events.next()).value).toMatchObject({ type: 'job.created' });
    await expect(events.next()).rejects.toBeInstanceOf(ApiErrorClasses.UNAUTHORIZED);
    expect(scripted.requests).toHaveLength(4);
    expect(await events.next()).toEqual({ done: true, value: undefined });
    await off.close();
  });
});

describe('logs follow: resume', () => {
  it('resumes after a drop without repeating chunks, and ends on `end`', async () => {
    scripted = await startScriptedServer((_req, res, n) => {
      openSse(res);
      res.write('event: stdout\ndata: "a\\n"\n\n');
      res.write('event: stderr\ndata: "b\\n"\n\n');
      if (n === 1) {
        res.destroy();
        return;
      }
      res.write('event: stdout\ndata: "c\\n"\n\n');
      res.end(
        `event: end\ndata: ${JSON.stringify({ id: 'job_1', state: 'succeeded', exitCode: 0 })}\n\n`,
      );
    });
    const off = new Offload({ url: scripted.url, ...fast });
    const follow = off.logs('job_1', { follow: true });
    const got: string[] = [];
    for await (const c of follow) got.push(`${c.stream}:${c.data}`);
    expect(got).toEqual(['stdout:a\n', 'stderr:b\n', 'stdout:c\n']);
    expect(follow.job).toMatchObject({ state: 'succeeded', exitCode: 0 });
    expect(scripted.requests.map((r) => r.url)).toEqual([
      '/api/v1/jobs/job_1/logs?follow=1',
      '/api/v1/jobs/job_1/logs?follow=1',
    ]);
    await off.close();
  });
});

describe('the SSE parser', () => {
  async function parse(...parts: string[]) {
    const enc = new TextEncoder();
    async function* chunks() {
      for (const p of parts) yield enc.encode(p);
    }
    const out = [];
    for await (const ev of parseSse(chunks())) out.push(ev);
    return out;
  }

  it('handles CRLF and CR split across chunks, multi-line data, comments and ids', async () => {
    const events = await parse(
      ': comment\r',
      '\n\r\nevent: a\r',
      '\ndata: one\ndata:two\n',
      'id: 7\n\n',
      'data: plain\r\r',
      'event: skipped-no-data\n\n',
      'retry: 250\ndata: x\n\n',
    );
    expect(events).toEqual([
      { event: 'a', data: 'one\ntwo', id: '7', retryMs: undefined },
      { event: 'message', data: 'plain', id: '7', retryMs: undefined },
      { event: 'message', data: 'x', id: '7', retryMs: 250 },
    ]);
  });

  it('decodes UTF-8 split inside a character', async () => {
    const bytes = new TextEncoder().encode('data: héllo ✓\n\n');
    async function* chunks() {
      for (const b of bytes) yield new Uint8Array([b]);
    }
    const out = [];
    for await (const ev of parseSse(chunks())) out.push(ev.data);
    expect(out).toEqual(['héllo ✓']);
  });
});
