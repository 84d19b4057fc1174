import {
  agentAccepts,
  fitJob,
  freeResources,
  jobClassKey,
  jobClassOf,
  reserve,
  sameJobClass,
  type AgentRecord,
  type JobClass,
  type Reservation,
} from '@offload/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agent, classOfSubmit, jobClass, requirements, submit } from './fixtures.js';

const gpu = (index: number, memoryMb: number) => ({ index, model: `gpu${index}`, memoryMb });

const GPU_BOX = agent({
  name: 'gpu-box',
  capabilities: ['gpu', 'os:linux', 'task:infer'],
  pools: ['render'],
  resources: { cpu: 16, memoryMb: 65_536, gpus: [gpu(0, 24_000), gpu(1, 8_000), gpu(2, 16_000)] },
});
const PI = agent({
  name: 'pi',
  capabilities: ['os:linux', 'arch:arm64'],
  resources: { cpu: 4, memoryMb: 4_096, gpus: [] },
  maxJobs: 2,
});

describe('agentAccepts: a matching table', () => {
  const rows: Array<{ what: string; agent: AgentRecord; c: JobClass; ok: boolean }> = [
    { what: 'no requirements', agent: PI, c: jobClass(), ok: true },
    {
      what: 'capabilities a subset',
      agent: GPU_BOX,
      c: jobClass({ capabilities: ['gpu', 'os:linux'] }),
      ok: true,
    },
    { what: 'a missing capability', agent: PI, c: jobClass({ capabilities: ['gpu'] }), ok: false },
    {
      what: 'one of two capabilities missing',
      agent: PI,
      c: jobClass({ capabilities: ['arch:arm64', 'ffmpeg'] }),
      ok: false,
    },
    {
      what: 'a task job needs its handler',
      agent: GPU_BOX,
      c: classOfSubmit({ task: 'infer' }),
      ok: true,
    },
    {
      what: 'a task job without the handler',
      agent: PI,
      c: classOfSubmit({ task: 'infer' }),
      ok: false,
    },
    { what: 'targetAgent by name', agent: PI, c: jobClass({}, { targetAgent: 'pi' }), ok: true },
    {
      what: 'targetAgent of another',
      agent: GPU_BOX,
      c: jobClass({}, { targetAgent: 'pi' }),
      ok: false,
    },
    { what: 'a pool it is in', agent: GPU_BOX, c: jobClass({}, { pool: 'render' }), ok: true },
    { what: 'a pool it is not in', agent: PI, c: jobClass({}, { pool: 'render' }), ok: false },
    { what: 'draining', agent: { ...PI, state: 'draining' }, c: jobClass(), ok: false },
    { what: 'offline', agent: { ...PI, state: 'offline' }, c: jobClass(), ok: false },
    { what: 'revoked', agent: { ...PI, state: 'revoked' }, c: jobClass(), ok: false },
    { what: 'cpu equal to total', agent: PI, c: jobClass({ cpu: 4 }), ok: true },
    { what: 'cpu above total', agent: PI, c: jobClass({ cpu: 4.5 }), ok: false },
    { what: 'fractional cpu', agent: PI, c: jobClass({ cpu: 0.1 }), ok: true },
    {
      what: 'cpu 0 on an agent with 0 cpu',
      agent: { ...PI, resources: { ...PI.resources, cpu: 0 } },
      c: jobClass({ cpu: 0 }),
      ok: true,
    },
    { what: 'memory equal to total', agent: PI, c: jobClass({ memoryMb: 4_096 }), ok: true },
    { what: 'memory above total', agent: PI, c: jobClass({ memoryMb: 4_097 }), ok: false },
    { what: 'a GPU on an agent without', agent: PI, c: jobClass({ gpus: 1 }), ok: false },
    { what: 'all its GPUs', agent: GPU_BOX, c: jobClass({ gpus: 3 }), ok: true },
    { what: 'more GPUs than it has', agent: GPU_BOX, c: jobClass({ gpus: 4 }), ok: false },
    {
      what: 'gpuMemoryMb one GPU has',
      agent: GPU_BOX,
      c: jobClass({ gpus: 1, gpuMemoryMb: 24_000 }),
      ok: true,
    },
    {
      what: 'gpuMemoryMb no GPU has',
      agent: GPU_BOX,
      c: jobClass({ gpus: 1, gpuMemoryMb: 24_001 }),
      ok: false,
    },
    {
      what: 'two GPUs with 16 GB (it has two)',
      agent: GPU_BOX,
      c: jobClass({ gpus: 2, gpuMemoryMb: 16_000 }),
      ok: true,
    },
    {
      what: 'three GPUs with 16 GB (it has two)',
      agent: GPU_BOX,
      c: jobClass({ gpus: 3, gpuMemoryMb: 16_000 }),
      ok: false,
    },
    {
      what: 'gpuMemoryMb via submit implies a GPU',
      agent: PI,
      c: classOfSubmit({ command: 'x', requires: { gpuMemoryMb: 1 } }),
      ok: false,
    },
  ];

  it.each(rows)('$what → $ok', ({ agent: a, c, ok }) => {
    expect(agentAccepts(a, c)).toBe(ok);
  });

  it('ignores what the agent runs now (totals, not free resources)', () => {
    expect(agentAccepts({ ...PI, maxJobs: 0 }, jobClass({ cpu: 4 }))).toBe(true);
  });
});

describe('freeResources', () => {
  it('subtracts running reservations from the totals', () => {
    const running: Reservation[] = [
      { cpu: 2.5, memoryMb: 1_000, gpus: [0] },
      { cpu: 0, memoryMb: 0, gpus: [] },
      { cpu: 1, memoryMb: 24, gpus: [2] },
    ];
    expect(freeResources({ ...GPU_BOX, maxJobs: 10 }, running)).toEqual({
      cpu: 12.5,
      memoryMb: 64_512,
      gpus: [1],
      slots: 7,
    });
  });

  it('is the totals when nothing runs', () => {
    expect(freeResources(PI, [])).toEqual({ cpu: 4, memoryMb: 4_096, gpus: [], slots: 2 });
  });

  it('can go negative when an agent shrinks below what runs (nothing more fits)', () => {
    const free = freeResources({ ...PI, maxJobs: 1 }, [
      { cpu: 6, memoryMb: 0, gpus: [] },
      { cpu: 0, memoryMb: 0, gpus: [] },
    ]);
    expect(free).toMatchObject({ cpu: -2, slots: -1 });
    expect(fitJob(PI, free, requirements({ cpu: 0 }))).toBeNull();
  });
});

describe('fitJob', () => {
  it('fits cpu, memory and slots against free resources', () => {
    const free = freeResources(PI, [{ cpu: 3, memoryMb: 4_000, gpus: [] }]);
    expect(fitJob(PI, free, requirements({ cpu: 1, memoryMb: 96 }))).toEqual({ gpus: [] });
    expect(fitJob(PI, free, requirements({ cpu: 1.01 }))).toBeNull();
    expect(fitJob(PI, free, requirements({ cpu: 0, memoryMb: 97 }))).toBeNull();
    expect(fitJob(PI, { ...free, slots: 0 }, requirements({ cpu: 0 }))).toBeNull();
  });

  it('fits fractional cpu up to the last bit despite float rounding', () => {
    const free = freeResources(PI, []);
    let n = 0;
    const r = requirements({ cpu: 0.1 });
    free.slots = 1_000;
    while (fitJob(PI, free, r) !== null) {
      reserve(free, r, []);
      n += 1;
    }
    expect(n).toBe(40);
  });

  it('cpu 0 jobs are bounded only by slots (maxJobs)', () => {
    const free = freeResources(PI, [{ cpu: 4, memoryMb: 4_096, gpus: [] }]);
    expect(fitJob(PI, free, requirements({ cpu: 0 }))).toEqual({ gpus: [] });
    reserve(free, requirements({ cpu: 0 }), []);
    expect(free.slots).toBe(0);
    expect(fitJob(PI, free, requirements({ cpu: 0 }))).toBeNull();
  });

  it('picks the smallest free GPU that has gpuMemoryMb (best fit)', () => {
    const free = freeResources(GPU_BOX, []);
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 1 }))).toEqual({ gpus: [1] });
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 1, gpuMemoryMb: 10_000 }))).toEqual({
      gpus: [2],
    });
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 1, gpuMemoryMb: 20_000 }))).toEqual({
      gpus: [0],
    });
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 2, gpuMemoryMb: 10_000 }))).toEqual({
      gpus: [0, 2],
    });
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 2 }))).toEqual({ gpus: [1, 2] });
  });

  it('breaks ties between equal GPUs by index', () => {
    const twin = agent({
      resources: { cpu: 8, memoryMb: 8_000, gpus: [gpu(3, 8_000), gpu(1, 8_000)] },
    });
    expect(fitJob(twin, freeResources(twin, []), requirements({ gpus: 1 }))).toEqual({ gpus: [1] });
  });

  it('refuses when the GPUs with enough memory are taken', () => {
    const free = freeResources(GPU_BOX, [{ cpu: 1, memoryMb: 0, gpus: [0] }]);
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 1, gpuMemoryMb: 20_000 }))).toBeNull();
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 3 }))).toBeNull();
    expect(fitJob(GPU_BOX, free, requirements({ gpus: 2 }))).toEqual({ gpus: [1, 2] });
  });

  it('gives two 1-GPU jobs on a 2-GPU agent different GPUs, and a third none', () => {
    const two = agent({
      resources: { cpu: 8, memoryMb: 8_000, gpus: [gpu(0, 8_000), gpu(1, 8_000)] },
    });
    const free = freeResources(two, []);
    const r = requirements({ gpus: 1 });
    const a = fitJob(two, free, r);
    expect(a).not.toBeNull();
    reserve(free, r, a!.gpus);
    const b = fitJob(two, free, r);
    expect(b).not.toBeNull();
    reserve(free, r, b!.gpus);
    expect(new Set([...a!.gpus, ...b!.gpus]).size).toBe(2);
    expect(fitJob(two, free, r)).toBeNull();
    expect(free).toEqual({ cpu: 6, memoryMb: 8_000, gpus: [], slots: 2 });
  });
});

describe('reserve', () => {
  it('takes one job out of the free resources', () => {
    const free = { cpu: 4, memoryMb: 1_000, gpus: [0, 1, 2], slots: 3 };
    reserve(free, requirements({ cpu: 1.5, memoryMb: 200, gpus: 2 }), [0, 2]);
    expect(free).toEqual({ cpu: 2.5, memoryMb: 800, gpus: [1], slots: 2 });
  });
});

describe('job classes', () => {
  it('jobClassOf takes exactly the matching fields', () => {
    const job = submit({
      command: 'x',
      queue: 'q',
      pool: 'p',
      targetAgent: 't',
      priority: 'high',
      tags: { a: 'b' },
    });
    expect(jobClassOf(job)).toEqual({
      queue: 'q',
      requires: job.requires,
      targetAgent: 't',
      pool: 'p',
    });
  });

  it('jobClassKey is equal for equal classes, whatever else differs', () => {
    const a = submit({
      command: 'a',
      requires: { capabilities: ['b', 'a'] },
      priority: 'low',
      name: 'one',
      tags: { x: '1' },
    });
    const b = submit({
      command: ['b', 'c'],
      requires: { capabilities: ['a', 'b', 'a'] as string[], cpu: 1 },
      timeoutSec: 5,
      maxAttempts: 3,
    });
    expect(jobClassKey(jobClassOf(a))).toBe(jobClassKey(jobClassOf(b)));
    expect(jobClassKey(jobClass())).toBe(jobClassKey(jobClass()));
  });

  const base = jobClass(
    { capabilities: ['a'], cpu: 1, memoryMb: 10, gpus: 1, gpuMemoryMb: 100 },
    { queue: 'q', targetAgent: 't', pool: 'p' },
  );
  const variants: Array<[string, JobClass]> = [
    ['queue', { ...base, queue: 'r' }],
    ['capabilities', { ...base, requires: { ...base.requires, capabilities: ['a', 'b'] } }],
    ['no capabilities', { ...base, requires: { ...base.requires, capabilities: [] } }],
    ['cpu', { ...base, requires: { ...base.requires, cpu: 0.5 } }],
    ['memoryMb', { ...base, requires: { ...base.requires, memoryMb: 11 } }],
    ['gpus', { ...base, requires: { ...base.requires, gpus: 2 } }],
    ['gpuMemoryMb', { ...base, requires: { ...base.requires, gpuMemoryMb: 101 } }],
    ['targetAgent', { ...base, targetAgent: 'u' }],
    ['targetAgent null', { ...base, targetAgent: null }],
    ['targetAgent "null"', { ...base, targetAgent: 'null' }],
    ['pool', { ...base, pool: 'o' }],
    ['pool null', { ...base, pool: null }],
    ['pool and target swapped', { ...base, targetAgent: 'p', pool: 't' }],
    [
      'a capability that looks like two',
      { ...base, requires: { ...base.requires, capabilities: ['a","b'] } },
    ],
  ];

  it.each(variants)('jobClassKey differs when %s differs', (_what, c) => {
    expect(jobClassKey(c)).not.toBe(jobClassKey(base));
  });

  it('all variants have distinct keys', () => {
    const keys = new Set([base, ...variants.map(([, c]) => c)].map(jobClassKey));
    expect(keys.size).toBe(variants.length + 1);
  });
});

describe('sameJobClass', () => {
  it('says what equal jobClassKeys say, for classes that differ in any one field', () => {
    const arb: fc.Arbitrary<JobClass> = fc.record({
      queue: fc.constantFrom('default', 'render'),
      requires: fc.record({
        capabilities: fc
          .uniqueArray(fc.constantFrom('gpu', 'os:linux', 'task:x'), { maxLength: 3 })
          .map((c) => c.sort()),
        cpu: fc.constantFrom(0.5, 1, 2),
        memoryMb: fc.constantFrom(0, 512),
        gpus: fc.constantFrom(0, 1),
        gpuMemoryMb: fc.constantFrom(0, 8_000),
      }),
      targetAgent: fc.constantFrom(null, 'pi'),
      pool: fc.constantFrom(null, 'render'),
    });
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        expect(sameJobClass(a, b)).toBe(jobClassKey(a) === jobClassKey(b));
        expect(sameJobClass(a, structuredClone(a))).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});
