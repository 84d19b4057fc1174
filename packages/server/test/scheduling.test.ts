import { afterEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

let t: TestServer;
afterEach(async () => {
  await t.close();
});

const ids = (r: { jobs: Array<{ id: string }> }) => r.jobs.map((j) => j.id);

describe('matching', () => {
  it('gives each job only to agents that have every capability, the target name and the pool', async () => {
    t = await createTestServer();
    const plain = await t.registerAgent({ name: 'plain', capabilities: ['task:x'] });
    const gpu = await t.registerAgent({
      name: 'gpu',
      capabilities: ['task:x', 'gpu', 'cuda'],
      pools: ['render'],
    });
    const needsGpu = await t.submit({ task: 'x', requires: { capabilities: ['gpu', 'cuda'] } });
    const targeted = await t.submit({ task: 'x', targetAgent: 'plain' });
    const pooled = await t.submit({ task: 'x', pool: 'render' });
    const any = await t.submit({ task: 'x' });
    expect(ids(await plain.sync())).toEqual([targeted.id, any.id]);
    expect(ids(await gpu.sync())).toEqual([needsGpu.id, pooled.id]);
  });

  it('fits cpu, memory and GPUs against free resources and never over-commits', async () => {
    t = await createTestServer();
    const a = await t.registerAgent({
      capabilities: ['task:x'],
      resources: {
        cpu: 2,
        memoryMb: 1_000,
        gpus: [
          { index: 0, model: 'big', memoryMb: 48_000 },
          { index: 1, model: 'small', memoryMb: 8_000 },
        ],
      },
    });
    const heavy = await t.submit({ task: 'x', requires: { cpu: 1.5, memoryMb: 600 } });
    const light = await t.submit({ task: 'x', requires: { cpu: 0.5, memoryMb: 300 } });
    const tooMuchMem = await t.submit({ task: 'x', requires: { memoryMb: 200 } });
    const first = await a.sync();
    expect(ids(first)).toEqual([heavy.id, light.id]);
    expect(ids(await a.sync())).toEqual([]);
    const done = first.jobs.find((j) => j.id === heavy.id)!;
    const second = await a.sync({
      completions: [{ jobId: heavy.id, leaseId: done.leaseId, outcome: 'succeeded' }],
    });
    expect(ids(second)).toEqual([tooMuchMem.id]);

    const bigGpu = await t.submit({ task: 'x', requires: { gpus: 1, gpuMemoryMb: 40_000 } });
    const anyGpu = await t.submit({ task: 'x', requires: { gpus: 1 } });
    const third = await a.sync();
    expect(third.jobs.map((j) => [j.id, j.gpus])).toEqual([
      [bigGpu.id, [0]],
      [anyGpu.id, [1]],
    ]);
  });

  it('respects maxJobs', async () => {
    t = await createTestServer();
    const a = await t.registerAgent({ capabilities: ['task:x'], maxJobs: 2 });
    await t.request('POST', '/api/v1/jobs/batch', {
      body: { jobs: [{ task: 'x' }, { task: 'x' }, { task: 'x' }] },
    });
    expect((await a.sync({ max: 10 })).jobs).toHaveLength(2);
    expect((await a.sync({ max: 10 })).jobs).toHaveLength(0);
  });

  it('hands out priority first, FIFO within a priority', async () => {
    t = await createTestServer();
    const a = await t.registerAgent({ capabilities: ['task:x'], maxJobs: 100 });
    const order: Array<[string, string]> = [];
    for (const [i, p] of [
      'low',
      'normal',
      'critical',
      'high',
      'normal',
      'critical',
      'low',
    ].entries()) {
      const j = await t.submit({ task: 'x', priority: p, name: `${p}-${i}` });
      order.push([j.id, j.name]);
      t.clock.advance(1);
    }
    const names = (await a.sync({ max: 100 })).jobs.map((j) => j.name);
    expect(names).toEqual([
      'critical-2',
      'critical-5',
      'high-3',
      'normal-1',
      'normal-4',
      'low-0',
      'low-6',
    ]);
  });

  it('does not hand out jobs of a paused queue until it is resumed', async () => {
    t = await createTestServer();
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    expect((await t.request('POST', '/api/v1/queues/night/pause')).body).toMatchObject({
      name: 'night',
      paused: true,
    });
    const job = await t.submit({ task: 'x', queue: 'night' });
    expect(ids(await a.sync())).toEqual([]);
    const pending = a.sync({ waitMs: 3_000 });
    await new Promise((r) => setTimeout(r, 30));
    await t.request('POST', '/api/v1/queues/night/resume');
    expect(ids(await pending)).toEqual([job.id]);
    const queues = await t.request('GET', '/api/v1/queues');
    expect(queues.body.queues.find((q: { name: string }) => q.name === 'night')).toMatchObject({
      paused: false,
      counts: { running: 1 },
    });
  });

  it('two concurrent claimers never get the same job', async () => {
    t = await createTestServer();
    const a = await t.registerAgent({ capabilities: ['task:x'], maxJobs: 1_000 });
    const b = await t.registerAgent({ capabilities: ['task:x'], maxJobs: 1_000 });
    await t.request('POST', '/api/v1/jobs/batch', {
      body: { jobs: Array.from({ length: 300 }, () => ({ task: 'x' })) },
    });
    const got: string[] = [];
    for (let round = 0; round < 10; round++) {
      const [ra, rb] = await Promise.all([a.sync({ max: 17 }), b.sync({ max: 23 })]);
      got.push(...ids(ra), ...ids(rb));
    }
    expect(got).toHaveLength(300);
    expect(new Set(got).size).toBe(300);
  });
});

describe('tiers', () => {
  it('a lower tier leaves work to a free higher tier for the grace period, then takes it', async () => {
    t = await createTestServer({ tierGraceMs: 2_000 });
    const fast = await t.registerAgent({
      name: 'fast',
      tier: 2,
      capabilities: ['task:x'],
      maxJobs: 1,
    });
    const slow = await t.registerAgent({ name: 'slow', tier: 1, capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    expect(ids(await slow.sync())).toEqual([]);
    t.clock.advance(2_001);
    expect(ids(await slow.sync())).toEqual([job.id]);

    // A busy (full) high-tier agent does not hold work back.
    const j2 = await t.submit({ task: 'x' });
    expect(ids(await fast.sync())).toEqual([j2.id]);
    const j3 = await t.submit({ task: 'x' });
    expect(ids(await slow.sync())).toEqual([j3.id]);
  });
});
