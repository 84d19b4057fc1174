import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

let t: TestServer;
beforeEach(async () => {
  t = await createTestServer();
});
afterEach(async () => {
  await t.close();
});

describe('submit', () => {
  it('stores a command job with defaults and returns 201', async () => {
    const res = await t.request('POST', '/api/v1/jobs', { body: { command: ['echo', 'hi'] } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      kind: 'command',
      command: ['echo', 'hi'],
      name: 'echo hi',
      queue: 'default',
      state: 'queued',
      attempt: 1,
      priority: 'normal',
      timeoutSec: 18_000,
      maxAttempts: 1,
      requires: { capabilities: [], cpu: 1, memoryMb: 0, gpus: 0, gpuMemoryMb: 0 },
      backoff: { type: 'exponential', delaySec: 5, maxDelaySec: 300 },
    });
    expect(res.body.id).toMatch(/^job_/);
    expect(new Date(res.body.createdAt).getTime()).toBe(t.clock.now());
    const got = await t.request('GET', `/api/v1/jobs/${res.body.id}`);
    expect(got.body).toEqual(res.body);
  });

  it('returns the first job, 200, for a repeated idempotency key', async () => {
    const a = await t.request('POST', '/api/v1/jobs', {
      body: { task: 'x', idempotencyKey: 'k1' },
    });
    const b = await t.request('POST', '/api/v1/jobs', {
      body: { task: 'x', idempotencyKey: 'k1', input: { other: 1 } },
    });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
    expect((await t.request('GET', '/api/v1/jobs')).body.jobs).toHaveLength(1);
  });

  it('concurrent submits share a commit but each gets its own job back', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.request('POST', '/api/v1/jobs', {
          body: { task: 'x', name: `n${i}`, ...(i % 10 === 0 && { idempotencyKey: 'same' }) },
        }),
      ),
    );
    results.forEach((r, i) => {
      if (i % 10 === 0) return;
      expect(r.status).toBe(201);
      expect(r.body.name).toBe(`n${i}`);
    });
    const keyed = results.filter((_, i) => i % 10 === 0);
    expect(new Set(keyed.map((r) => r.body.id)).size).toBe(1);
    expect(keyed.filter((r) => r.status === 201)).toHaveLength(1);
    expect(
      (await t.request('GET', '/api/v1/jobs', { query: { limit: '500' } })).body.jobs,
    ).toHaveLength(46);
  });

  it('schedules delayed jobs', async () => {
    const res = await t.request('POST', '/api/v1/jobs', { body: { task: 'x', delaySec: 60 } });
    expect(res.body.state).toBe('scheduled');
    expect(new Date(res.body.runAt).getTime()).toBe(t.clock.now() + 60_000);
  });

  it('stores a batch in order, all or none', async () => {
    const ok = await t.request('POST', '/api/v1/jobs/batch', {
      body: { jobs: [{ task: 'a' }, { task: 'b', priority: 'high' }] },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.jobs.map((j: { task: string }) => j.task)).toEqual(['a', 'b']);

    const bad = await t.request('POST', '/api/v1/jobs/batch', {
      body: { jobs: [{ task: 'c' }, { task: 'd', command: 'x' }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.details[0].field).toMatch(/^\/jobs\/1\//);
    const all = await t.request('GET', '/api/v1/jobs');
    expect(all.body.jobs.map((j: { task: string }) => j.task).sort()).toEqual(['a', 'b']);
  });

  it('refuses a batch over 10,000 jobs', async () => {
    const jobs = Array.from({ length: 10_001 }, () => ({ task: 'x' }));
    const res = await t.request('POST', '/api/v1/jobs/batch', { body: { jobs } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('/jobs');
  });
});

describe('list', () => {
  it('filters by state, queue, agent, tag and name, newest first, with a cursor', async () => {
    for (let i = 0; i < 7; i++) {
      await t.submit({
        task: 'render',
        name: `frame-${i}`,
        queue: i % 2 ? 'odd' : 'even',
        tags: { shot: i < 3 ? 'a' : 'b' },
      });
      t.clock.advance(1);
    }
    const canceled = await t.submit({ task: 'render', name: 'to-cancel' });
    await t.request('POST', `/api/v1/jobs/${canceled.id}/cancel`);

    const names = (r: { body: { jobs: Array<{ name: string }> } }) =>
      r.body.jobs.map((j) => j.name);
    expect(names(await t.request('GET', '/api/v1/jobs', { query: { queue: 'odd' } }))).toEqual([
      'frame-5',
      'frame-3',
      'frame-1',
    ]);
    expect(names(await t.request('GET', '/api/v1/jobs', { query: { state: 'canceled' } }))).toEqual(
      ['to-cancel'],
    );
    expect(names(await t.request('GET', '/api/v1/jobs', { query: { tag: 'shot:a' } }))).toEqual([
      'frame-2',
      'frame-1',
      'frame-0',
    ]);
    expect(names(await t.request('GET', '/api/v1/jobs', { query: { q: 'cancel' } }))).toEqual([
      'to-cancel',
    ]);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.request('GET', '/api/v1/jobs', {
        query: { limit: '3', ...(cursor && { cursor }) },
      });
      expect(page.status).toBe(200);
      seen.push(...names(page));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([
      'to-cancel',
      'frame-6',
      'frame-5',
      'frame-4',
      'frame-3',
      'frame-2',
      'frame-1',
      'frame-0',
    ]);
  });

  it('filters by the agent that ran the job', async () => {
    const a = await t.registerAgent({ name: 'box-a', capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x', requires: {}, targetAgent: 'box-a' });
    await t.submit({ task: 'y' });
    await a.sync({ max: 1 });
    const res = await t.request('GET', '/api/v1/jobs', { query: { agent: 'box-a' } });
    expect(res.body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
  });
});

describe('cancel and retry', () => {
  it('cancels queued jobs at once and refuses finished ones with 409', async () => {
    const job = await t.submit({ task: 'x' });
    const res = await t.request('POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'canceled', error: { code: 'CANCELED' } });
    const again = await t.request('POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_STATE');
  });

  it('cancels a running job through its agent: 202, then canceled when the agent reports', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    const [claimed] = (await agent.sync()).jobs;
    const res = await t.request('POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ state: 'running', cancelRequested: true });
    const next = await agent.sync({ max: 1, waitMs: 1_000 });
    expect(next.cancel).toEqual([claimed!.leaseId]);
    const done = await agent.sync({
      max: 0,
      completions: [
        {
          jobId: job.id,
          leaseId: claimed!.leaseId,
          outcome: 'failed',
          error: { code: 'CANCELED', message: 'killed' },
        },
      ],
    });
    expect(done.acks).toEqual([{ jobId: job.id, ok: true }]);
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body.state).toBe('canceled');
  });

  it('retries a finished job as a new attempt', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    const [c] = (await agent.sync()).jobs;
    await agent.sync({
      max: 0,
      completions: [
        {
          jobId: job.id,
          leaseId: c!.leaseId,
          outcome: 'failed',
          error: { code: 'TASK_FAILED', message: 'boom' },
        },
      ],
    });
    const failed = await t.request('GET', `/api/v1/jobs/${job.id}`);
    expect(failed.body).toMatchObject({
      state: 'failed',
      error: { code: 'TASK_FAILED', message: 'boom' },
    });
    const retried = await t.request('POST', `/api/v1/jobs/${job.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ state: 'queued', attempt: 2 });
    expect(retried.body.error).toBeUndefined();
    expect((await t.request('POST', `/api/v1/jobs/${job.id}/retry`)).status).toBe(409);
  });

  it('answers 404 with JOB_NOT_FOUND for unknown ids', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/jobs/job_nope'],
      ['GET', '/api/v1/jobs/job_nope/wait'],
      ['GET', '/api/v1/jobs/job_nope/logs'],
      ['POST', '/api/v1/jobs/job_nope/cancel'],
      ['POST', '/api/v1/jobs/job_nope/retry'],
    ] as const) {
      const res = await t.request(method, url);
      expect(res.status, url).toBe(404);
      expect(res.body.error.code).toBe('JOB_NOT_FOUND');
    }
  });
});

describe('waiting', () => {
  it('POST ?wait= holds until the job is terminal (200), or answers 202 on timeout', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    const pending = t.request('POST', '/api/v1/jobs', {
      body: { task: 'x' },
      query: { wait: '5' },
    });
    const { jobs } = await agent.sync({ max: 1, waitMs: 2_000 });
    await agent.sync({
      max: 0,
      completions: [
        { jobId: jobs[0]!.id, leaseId: jobs[0]!.leaseId, outcome: 'succeeded', result: { ok: 1 } },
      ],
    });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'succeeded', result: { ok: 1 } });

    const live = await t.request('POST', '/api/v1/jobs', {
      body: { task: 'x' },
      query: { wait: '0.05' },
    });
    expect(live.status).toBe(202);
    expect(live.body.state).toBe('queued');
  });

  it('GET /wait returns at once for a finished job and 202 for a live one after the timeout', async () => {
    const job = await t.submit({ task: 'x' });
    expect(
      (await t.request('GET', `/api/v1/jobs/${job.id}/wait`, { query: { timeoutSec: '0.05' } }))
        .status,
    ).toBe(202);
    await t.request('POST', `/api/v1/jobs/${job.id}/cancel`);
    const res = await t.request('GET', `/api/v1/jobs/${job.id}/wait`, {
      query: { timeoutSec: '5' },
    });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('canceled');
  });
});

describe('shutdown', () => {
  it('answers held waits with 202 when the server closes', async () => {
    const job = await t.submit({ task: 'x' });
    const pending = t.request('GET', `/api/v1/jobs/${job.id}/wait`, {
      query: { timeoutSec: '60' },
    });
    await new Promise((r) => setTimeout(r, 30));
    const started = performance.now();
    const closing = t.app.close();
    const res = await pending;
    await closing;
    expect(res.status).toBe(202);
    expect(res.body.state).toBe('queued');
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
