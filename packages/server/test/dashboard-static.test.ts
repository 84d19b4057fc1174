import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '@offload/core';
import { openSqliteStore, type Store } from '@offload/store';
import { buildApp, resolveServerConfig, type App } from '../src/index.js';
import { createTestServer } from './test-server.js';

/** The dashboard's static files at / and the SPA fallback, built and not built. */
let dir: string;
let store: Store;
let app: App;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'offload-dashboard-static-'));
  const dist = path.join(dir, 'dist');
  mkdirSync(path.join(dist, 'assets'), { recursive: true });
  writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>offload</title>');
  writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(path.join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
  const config = resolveServerConfig({ dataDir: dir }, {});
  app = await buildApp({
    store,
    config,
    clock: createManualClock(Date.now()),
    startMaintenance: false,
    dashboardDir: dist,
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard static files', () => {
  it('serves index.html at / without caching it', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toContain('<title>offload</title>');
  });

  it('serves hashed assets with a long immutable cache', async () => {
    const res = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await app.inject({ method: 'GET', url: '/assets/missing.js' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/assets/../index.html' })).statusCode).not.toBe(
      500,
    );
  });

  it('falls back to index.html for app routes and serves top-level files', async () => {
    for (const url of ['/jobs/job_123?tab=logs', '/jobs?state=failed', '/agents', '/access']) {
      const page = await app.inject({ method: 'GET', url });
      expect(page.statusCode, url).toBe(200);
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.body).toContain('<title>offload</title>');
    }
    const icon = await app.inject({ method: 'GET', url: '/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.body).toContain('<svg');
  });

  it('leaves the API and server paths alone', async () => {
    const api = await app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
    expect(api.statusCode).toBe(404);
    expect(api.json().error.code).toBe('NOT_FOUND');
    expect((await app.inject({ method: 'GET', url: '/api/v1/jobs' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ ok: true });
    expect((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect([200, 302]).toContain((await app.inject({ method: 'GET', url: '/docs' })).statusCode);
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    // Only the app's own paths fall back to it; anything else is the API's 404.
    const other = await app.inject({ method: 'GET', url: '/jobsx' });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('NOT_FOUND');
    // The router's segment limit on an API path is still the API's 400.
    const long = await app.inject({ method: 'GET', url: `/api/v1/jobs/${'j'.repeat(500)}` });
    expect(long.statusCode).toBe(400);
    // The files are not API operations: not in the route registry, hence not in /openapi.json.
    expect(app.offload.routes.filter((r) => !r.url.startsWith('/api/'))).not.toContainEqual(
      expect.objectContaining({ url: '/assets/*' }),
    );
  });

  it('says how to build the dashboard when it is not built', async () => {
    const t = await createTestServer();
    try {
      for (const url of ['/', '/agents']) {
        const res = await t.app.inject({ method: 'GET', url });
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/text\/plain/);
        expect(res.body).toContain('npm run build');
      }
      expect((await t.app.inject({ method: 'GET', url: '/assets/x.js' })).statusCode).toBe(404);
    } finally {
      await t.close();
    }
  });
});

describe('GET /api/v1/stats/history', () => {
  it('counts starts and finishes per minute with the queue wait of the started jobs', async () => {
    const t = await createTestServer();
    try {
      const agent = await t.registerAgent({ name: 'history-agent', capabilities: ['task:h'] });
      const job = await t.submit({ task: 'h' });
      t.clock.advance(1_500);
      const { jobs } = await agent.sync({ max: 1, waitMs: 0 });
      expect(jobs.map((j) => j.id)).toEqual([job.id]);
      await agent.sync({
        max: 0,
        waitMs: 0,
        completions: [{ jobId: job.id, leaseId: jobs[0]!.leaseId, outcome: 'succeeded' }],
      });
      const res = await t.request('GET', '/api/v1/stats/history');
      expect(res.status).toBe(200);
      expect(res.body.minutes).toHaveLength(60);
      const last = res.body.minutes.at(-1);
      expect(last).toMatchObject({ started: 1, succeeded: 1, failed: 0 });
      expect(last.queueWaitP50Ms).toBe(1_500);
      expect(res.body.minutes[0]).toMatchObject({ started: 0, queueWaitP95Ms: 0 });
    } finally {
      await t.close();
    }
  });
});
