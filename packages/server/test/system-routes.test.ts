import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '@offload/core';
import { openSqliteStore } from '@offload/store';
import pino from 'pino';
import { buildApp, createAdminToken, hashSecret, resolveServerConfig } from '@offload/server';
import { createTestServer, type TestServer } from './test-server.js';

let t: TestServer;
beforeEach(async () => {
  t = await createTestServer();
});
afterEach(async () => {
  await t.close();
});

/** The value of one Prometheus sample, or undefined when absent. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

interface SseEvent {
  event: string;
  data: any;
}

/**
 * An SSE client over real HTTP (node:http, so that hanging up closes exactly that socket):
 * collects parsed events; `next` waits for a matching one.
 */
async function openEvents(base: string, query: string, token: string | null) {
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const { req, res } = await new Promise<{ req: http.ClientRequest; res: http.IncomingMessage }>(
    (resolve, reject) => {
      const req = http.get(
        `${base}/api/v1/events${query}`,
        { headers: token ? { authorization: `Bearer ${token}` } : {}, agent: false },
        (res) => resolve({ req, res }),
      );
      req.on('error', reject);
    },
  );
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  res.setEncoding('utf8');
  let buffer = '';
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0 && res.statusCode === 200)
        events.push({ event, data: JSON.parse(data.join('\n')) });
    }
    wake();
  });
  const done = new Promise<void>((resolve) => {
    const end = () => {
      ended = true;
      wake();
      resolve();
    };
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
  });
  let body: any = null;
  if (res.statusCode !== 200) {
    await done;
    body = JSON.parse(buffer);
  }
  return {
    status: res.statusCode!,
    contentType: res.headers['content-type'],
    body,
    events,
    get ended() {
      return ended;
    },
    done,
    /** Resolves with the first event (already received or coming) that matches, or rejects after `ms`. */
    next(match: (e: SseEvent) => boolean, ms = 2_000): Promise<SseEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find(match);
          if (hit || ended) {
            waiters.delete(check);
            clearTimeout(timer);
            if (hit) resolve(hit);
            else
              reject(
                new Error(`stream ended; got ${events.map((e) => e.event).join(', ') || 'none'}`),
              );
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no matching event in ${ms} ms; got ${events.map((e) => e.event).join(', ') || 'none'}`,
            ),
          );
        }, ms);
        waiters.add(check);
        check();
      });
    },
    close: () => req.destroy(),
  };
}

async function listen(server: TestServer): Promise<string> {
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('/healthz and /readyz', () => {
  it('answer 200 without a credential', async () => {
    const h = await t.request('GET', '/healthz', { token: null });
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ ok: true });
    const r = await t.request('GET', '/readyz', { token: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
  });

  it('/readyz is 503 NOT_READY once the store is closed; the process stays up and says so everywhere', async () => {
    const s = await createTestServer({}, { startMaintenance: true });
    try {
      await s.submit({ task: 'x' });
      await s.store.close();
      const r = await s.request('GET', '/readyz', { token: null });
      expect(r.status).toBe(503);
      expect(r.body.error).toMatchObject({ code: 'NOT_READY' });
      // Liveness is not readiness: the process still answers.
      expect((await s.request('GET', '/healthz', { token: null })).status).toBe(200);
      // Requests that need the store are 503 NOT_READY (retry later), not 500.
      for (const url of ['/api/v1/jobs', '/api/v1/stats', '/api/v1/queues', '/api/v1/agents']) {
        const res = await s.request('GET', url);
        expect(res.status, url).toBe(503);
        expect(res.body.error.code).toBe('NOT_READY');
        // Clients and load balancers are told when to try again.
        expect(res.headers['retry-after'], url).toBe('1');
      }
      const submit = await s.request('POST', '/api/v1/jobs', { body: { task: 'x' } });
      expect(submit.status).toBe(503);
      // An uncached credential can not be checked either: 503, not 401 or 500.
      const unknown = await s.request('GET', '/api/v1/jobs', { token: 'offk_notcachedtoken' });
      expect(unknown.status).toBe(503);
      const metrics = await s.request('GET', '/metrics', { token: null });
      expect(metrics.status).toBe(503);
      // Maintenance timers hit the closed store too; the process must not crash meanwhile.
      await new Promise((r) => setTimeout(r, 200));
      expect((await s.request('GET', '/healthz', { token: null })).status).toBe(200);
    } finally {
      await s.close(); // closing the store again is a no-op; a PostgreSQL schema is dropped
    }
  });
});

describe('/metrics', () => {
  it('serves Prometheus text with jobs submitted, jobs by queue and state, and agents', async () => {
    const agent = await t.registerAgent({ name: 'm-1', capabilities: ['task:m'] });
    await t.registerAgent({ name: 'm-2' });
    for (let i = 0; i < 3; i++) await t.submit({ task: 'm' });
    await t.submit({ task: 'other', queue: 'alpha' });
    await t.submit({ task: 'later', queue: 'alpha', delaySec: 60 });
    const [claimed] = (await agent.sync({ max: 1 })).jobs;
    await agent.sync({
      max: 0,
      completions: [
        {
          jobId: claimed!.id,
          leaseId: claimed!.leaseId,
          outcome: 'succeeded',
          usage: { wallSec: 1.5 },
        },
      ],
    });
    const drained = await t.registerAgent({ name: 'm-3' });
    await t.request('POST', `/api/v1/agents/${drained.id}/drain`);

    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toContain('# TYPE offload_jobs_submitted_total counter');
    expect(text).toContain('# TYPE offload_jobs gauge');
    expect(text).toContain('# TYPE offload_agents gauge');
    expect(sample(text, 'offload_jobs_submitted_total', { queue: 'default' })).toBe(3);
    expect(sample(text, 'offload_jobs_submitted_total', { queue: 'alpha' })).toBe(2);
    expect(sample(text, 'offload_jobs', { queue: 'default', state: 'queued' })).toBe(2);
    expect(sample(text, 'offload_jobs', { queue: 'default', state: 'succeeded' })).toBe(1);
    expect(sample(text, 'offload_jobs', { queue: 'default', state: 'running' })).toBe(0);
    expect(sample(text, 'offload_jobs', { queue: 'alpha', state: 'queued' })).toBe(1);
    expect(sample(text, 'offload_jobs', { queue: 'alpha', state: 'scheduled' })).toBe(1);
    expect(sample(text, 'offload_agents', { state: 'online' })).toBe(2);
    expect(sample(text, 'offload_agents', { state: 'draining' })).toBe(1);
    expect(sample(text, 'offload_jobs_started_total', { queue: 'default' })).toBe(1);
    expect(
      sample(text, 'offload_jobs_finished_total', { queue: 'default', state: 'succeeded' }),
    ).toBe(1);
    expect(
      sample(text, 'offload_job_run_seconds_count', { queue: 'default', state: 'succeeded' }),
    ).toBe(1);
    expect(sample(text, 'offload_job_queue_wait_seconds_count', { queue: 'default' })).toBe(1);
    // Every sample line parses.
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/);
    }
  });

  it('needs the metrics token when one is configured: 401 without it', async () => {
    const s = await createTestServer({ metricsToken: 'metrics-secret-0123456789' });
    try {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: `Bearer ${s.adminToken}` },
        { authorization: 'metrics-secret-0123456789' },
      ]) {
        const res = await s.app.inject({ method: 'GET', url: '/metrics', headers });
        expect(res.statusCode, JSON.stringify(headers)).toBe(401);
        expect(res.json().error.code).toBe('UNAUTHORIZED');
      }
      const ok = await s.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer metrics-secret-0123456789' },
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('offload_jobs_submitted_total');
      // Health checks stay open.
      expect((await s.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await s.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('/api/v1/stats and /api/v1/queues', () => {
  it('count jobs by state and queue, agents, throughput and queue wait', async () => {
    const empty = await t.request('GET', '/api/v1/stats');
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({
      counts: {
        scheduled: 0,
        queued: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        canceled: 0,
        expired: 0,
      },
      agents: { online: 0, draining: 0, offline: 0 },
      throughput: {
        windowSec: 300,
        submittedPerSec: 0,
        startedPerSec: 0,
        finishedPerSec: 0,
        perMinute: expect.any(Array),
      },
      queueWaitMs: { p50: 0, p95: 0, samples: 0 },
    });
    expect(empty.body.throughput.perMinute).toHaveLength(60);

    const agent = await t.registerAgent({ capabilities: ['task:s'] });
    const a = await t.submit({ task: 's' });
    await t.submit({ task: 's' });
    await t.submit({ task: 'q', queue: 'alpha' });
    await t.submit({ task: 'q', queue: 'alpha', delaySec: 30 });
    const c = await t.submit({ task: 'c', queue: 'alpha' });
    await t.request('POST', `/api/v1/jobs/${c.id}/cancel`);
    t.clock.advance(250);
    const claimed = (await agent.sync({ max: 2 })).jobs;
    expect(claimed).toHaveLength(2);
    await agent.sync({
      max: 0,
      completions: [
        { jobId: a.id, leaseId: claimed.find((j) => j.id === a.id)!.leaseId, outcome: 'succeeded' },
      ],
    });

    const res = await t.request('GET', '/api/v1/stats');
    expect(res.status).toBe(200);
    expect(res.body.counts).toEqual({
      scheduled: 1,
      queued: 1,
      running: 1,
      succeeded: 1,
      failed: 0,
      canceled: 1,
      expired: 0,
    });
    expect(res.body.agents).toEqual({ online: 1, draining: 0, offline: 0 });
    const perMinute = res.body.throughput.perMinute as Array<{
      at: string;
      submitted: number;
      started: number;
      succeeded: number;
      failed: number;
    }>;
    expect(perMinute).toHaveLength(60);
    const sum = (k: 'submitted' | 'started' | 'succeeded' | 'failed') =>
      perMinute.reduce((n, b) => n + b[k], 0);
    expect({
      submitted: sum('submitted'),
      started: sum('started'),
      succeeded: sum('succeeded'),
      failed: sum('failed'),
    }).toEqual({ submitted: 5, started: 2, succeeded: 1, failed: 0 });
    expect(new Date(perMinute[59]!.at).getTime()).toBeLessThanOrEqual(t.clock.now());
    expect(res.body.throughput.submittedPerSec).toBeCloseTo(5 / 300);
    expect(res.body.queueWaitMs).toEqual({ p50: 250, p95: 250, samples: 2 });

    const queues = await t.request('GET', '/api/v1/queues');
    expect(queues.status).toBe(200);
    const byName = Object.fromEntries(
      (queues.body.queues as Array<{ name: string }>).map((q) => [q.name, q]),
    );
    expect(byName.default).toEqual({
      name: 'default',
      paused: false,
      counts: {
        scheduled: 0,
        queued: 0,
        running: 1,
        succeeded: 1,
        failed: 0,
        canceled: 0,
        expired: 0,
      },
    });
    expect(byName.alpha).toEqual({
      name: 'alpha',
      paused: false,
      counts: {
        scheduled: 1,
        queued: 1,
        running: 0,
        succeeded: 0,
        failed: 0,
        canceled: 1,
        expired: 0,
      },
    });

    const paused = await t.request('POST', '/api/v1/queues/alpha/pause');
    expect(paused.body).toMatchObject({ name: 'alpha', paused: true, counts: { queued: 1 } });
    const fresh = await t.request('POST', '/api/v1/queues/brand-new/pause');
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ name: 'brand-new', paused: true });
    const after = await t.request('GET', '/api/v1/queues');
    expect(after.body.queues.find((q: { name: string }) => q.name === 'alpha').paused).toBe(true);
    expect(after.body.queues.find((q: { name: string }) => q.name === 'brand-new')).toMatchObject({
      paused: true,
    });
    await t.request('POST', '/api/v1/queues/alpha/resume');
    expect(
      (await t.request('GET', '/api/v1/queues')).body.queues.find(
        (q: { name: string }) => q.name === 'alpha',
      ).paused,
    ).toBe(false);
  });
});

describe('/api/v1/events over real HTTP', () => {
  it('streams job.created for a submitted job, with the job as data', async () => {
    const base = await listen(t);
    const read = await t.createKey(['read']);
    const stream = await openEvents(base, '', read);
    try {
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      const job = await t.submit({ task: 'sse', name: 'watched' });
      const ev = await stream.next((e) => e.event === 'job.created');
      expect(ev.data).toMatchObject({ id: job.id, name: 'watched', state: 'queued', kind: 'task' });
      await t.request('POST', `/api/v1/jobs/${job.id}/cancel`);
      const canceled = await stream.next((e) => e.event === 'job.canceled');
      expect(canceled.data).toMatchObject({ id: job.id, state: 'canceled' });
    } finally {
      stream.close();
    }
    await settle();
    expect(t.app.offload.hub.subscriberCount, 'a client that hangs up is unsubscribed').toBe(0);
  });

  it('?types=agent.* passes only agent events', async () => {
    const base = await listen(t);
    const all = await openEvents(base, '', t.adminToken);
    const agents = await openEvents(base, '?types=agent.*', t.adminToken);
    try {
      await t.submit({ task: 'x' });
      const a = await t.registerAgent({ name: 'evented' });
      await t.request('POST', `/api/v1/agents/${a.id}/drain`);
      await all.next((e) => e.event === 'agent.draining');
      const online = await agents.next((e) => e.event === 'agent.online');
      expect(online.data).toMatchObject({ id: a.id, name: 'evented', state: 'online' });
      expect(online.data.secret).toBeUndefined();
      await agents.next((e) => e.event === 'agent.draining');
      expect(agents.events.map((e) => e.event)).toEqual(['agent.online', 'agent.draining']);
      expect(all.events.map((e) => e.event)).toEqual([
        'job.created',
        'agent.online',
        'agent.draining',
      ]);
    } finally {
      all.close();
      agents.close();
    }
  });

  it('?types= takes a list, and ?jobId= passes only that job', async () => {
    const base = await listen(t);
    const a = await t.submit({ task: 'x', name: 'a' });
    const onlyA = await openEvents(base, `?jobId=${a.id}`, t.adminToken);
    const listed = await openEvents(base, '?types=job.created,job.canceled', t.adminToken);
    try {
      const b = await t.submit({ task: 'x', name: 'b' });
      await t.request('POST', `/api/v1/jobs/${b.id}/cancel`);
      await t.request('POST', `/api/v1/jobs/${a.id}/cancel`);
      await t.request('POST', `/api/v1/jobs/${a.id}/retry`);
      await onlyA.next((e) => e.event === 'job.queued');
      expect(onlyA.events.map((e) => [e.event, e.data.id])).toEqual([
        ['job.canceled', a.id],
        ['job.queued', a.id],
      ]);
      await listed.next((e) => e.event === 'job.canceled' && e.data.id === a.id);
      expect(listed.events.map((e) => [e.event, e.data.name])).toEqual([
        ['job.created', 'b'],
        ['job.canceled', 'b'],
        ['job.canceled', 'a'],
      ]);
    } finally {
      onlyA.close();
      listed.close();
    }
  });

  it('refuses an unknown type with 400, and no credential with 401', async () => {
    const base = await listen(t);
    const bad = await openEvents(base, '?types=job.created,job.exploded', t.adminToken);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(bad.body.error.message).toContain('job.exploded');
    expect(bad.body.error.details[0].field).toMatch(/types/);
    const anonymous = await openEvents(base, '', null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHORIZED');
    expect(t.app.offload.hub.subscriberCount).toBe(0);
  });

  it('closing the server ends open streams instead of waiting for the clients', async () => {
    const base = await listen(t);
    const stream = await openEvents(base, '', t.adminToken);
    const job = await t.submit({ task: 'x' });
    const follow = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(
        `${base}/api/v1/jobs/${job.id}/logs?follow=1`,
        { headers: { authorization: `Bearer ${t.adminToken}` }, agent: false },
        resolve,
      ),
    );
    expect(follow.statusCode).toBe(200);
    follow.resume();
    const followEnded = new Promise((resolve) => follow.on('close', resolve));
    const started = Date.now();
    await t.app.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    await stream.done;
    await followEnded;
    expect(stream.ended).toBe(true);
  });
});

describe('secrets', () => {
  it('no list, event, metric or log line shows a secret', async () => {
    // A server of its own, to capture its log at the most verbose level.
    const dir = mkdtempSync(path.join(tmpdir(), 'offload-secrets-'));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
    const clock = createManualClock(Date.now());
    const app = await buildApp({
      store,
      config: resolveServerConfig({ dataDir: dir, leaseTimeoutMs: 5_000, tierGraceMs: 0 }, {}),
      clock,
      startMaintenance: false,
      logger: pino({ level: 'trace' }, sink),
    });
    const admin = await createAdminToken(store, clock.now(), 'admin_s');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const call = async (method: string, url: string, token: string | null, body?: unknown) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: {
          ...(token && { authorization: `Bearer ${token}` }),
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      return { status: res.status, text: await res.text() };
    };
    const events = await openEvents(base, '', admin);
    try {
      const secrets: string[] = [admin];
      const created = async (body: Record<string, unknown>) => {
        const res = await call('POST', '/api/v1/keys', admin, body);
        expect(res.status).toBe(201);
        const token = JSON.parse(res.text).token as string;
        secrets.push(token);
        return token;
      };
      const readKey = await created({ kind: 'api-key', name: 'reader', scopes: ['read'] });
      const submitKey = await created({
        kind: 'api-key',
        name: 'submitter',
        scopes: ['submit', 'shell'],
      });
      const revoked = await created({ kind: 'api-key', name: 'revoked', scopes: ['read'] });
      const join = await created({ kind: 'join-token', name: 'join' });
      const single = await created({
        kind: 'join-token',
        name: 'once',
        singleUse: true,
        ttlSec: 60,
      });
      const keyId = JSON.parse((await call('GET', '/api/v1/keys', admin)).text).keys.find(
        (k: { name: string }) => k.name === 'revoked',
      ).id;
      await call('DELETE', `/api/v1/keys/${keyId}`, admin);
      const agentSecrets: string[] = [];
      for (const [name, token] of [
        ['s-1', join],
        ['s-2', single],
      ] as const) {
        const res = await call('POST', '/api/v1/agent/register', token, {
          name,
          capabilities: ['task:x'],
          resources: { cpu: 2, memoryMb: 1_024, gpus: [] },
          maxJobs: 2,
        });
        expect(res.status).toBe(201);
        const secret = JSON.parse(res.text).secret as string;
        agentSecrets.push(secret);
        secrets.push(secret);
      }
      // Use every credential, good and bad, so that auth paths run and log.
      await call('POST', '/api/v1/jobs', submitKey, { command: ['echo', 'x'], env: { A: 'b' } });
      await call('POST', '/api/v1/jobs', submitKey, { task: 'x' });
      await call('GET', '/api/v1/jobs', readKey);
      await call('GET', '/api/v1/jobs', revoked);
      await call('GET', '/api/v1/jobs', join);
      await call('POST', '/api/v1/agent/register', single, {
        name: 's-3',
        capabilities: [],
        resources: { cpu: 1, memoryMb: 1, gpus: [] },
        maxJobs: 1,
      });
      await call('POST', '/api/v1/agent/sync', agentSecrets[0]!, { max: 1, waitMs: 0 });
      await call('POST', '/api/v1/agent/heartbeat', agentSecrets[1]!, { leases: [] });
      await call('GET', '/api/v1/keys', readKey);
      await call('POST', '/api/v1/jobs', submitKey, '{"broken":');

      const outputs: Array<[string, string]> = [];
      for (const url of [
        '/api/v1/keys',
        '/api/v1/agents',
        '/api/v1/agents?includeRevoked=true',
        '/api/v1/agents/s-1',
        '/api/v1/jobs',
        '/api/v1/queues',
        '/api/v1/stats',
        '/metrics',
        '/openapi.json',
        '/healthz',
        '/readyz',
      ]) {
        const res = await call('GET', url, admin);
        expect(res.status, url).toBe(200);
        outputs.push([url, res.text]);
      }
      await events.next((e) => e.event === 'agent.online' && e.data.name === 's-2');
      outputs.push(['events', JSON.stringify(events.events)]);
      expect(events.events.length).toBeGreaterThan(2);
      outputs.push(['log', lines.join('')]);
      expect(lines.length).toBeGreaterThan(0);

      expect(secrets.length).toBe(8);
      for (const secret of secrets) {
        const hash = hashSecret(secret);
        for (const [where, text] of outputs) {
          expect(text.includes(secret), `secret ${secret.slice(0, 6)}… in ${where}`).toBe(false);
          expect(text.includes(hash), `hash of ${secret.slice(0, 6)}… in ${where}`).toBe(false);
        }
      }
    } finally {
      events.close();
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
