import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ResourceConflictError,
  agentCapabilities,
  createCpuLoadGuard,
  createResourcePool,
  detectResources,
  parseNvidiaSmi,
  readCpuTimes,
  type CpuTimes,
} from '../src/index.js';
import { createSandbox } from './helpers.js';

const box = createSandbox();
afterAll(() => box.cleanup());

/** A directory holding an executable `nvidia-smi` with `body`, to put first on PATH. */
function fakeNvidiaSmi(name: string, body: string): NodeJS.ProcessEnv {
  const dir = join(box.root, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'nvidia-smi');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` };
}

describe('resource detection', () => {
  it('detects CPUs, memory, OS and arch', async () => {
    const m = await detectResources({ detectGpus: false });
    expect(m.resources.cpu).toBeGreaterThan(0);
    expect(m.resources.cpu).toBeLessThanOrEqual(os.availableParallelism());
    expect(m.resources.memoryMb).toBeGreaterThan(0);
    expect(m.os).toBe(process.platform);
    expect(m.arch).toBe(process.arch);
    expect(m.resources.gpus).toEqual([]);
  });

  it('reads GPUs from nvidia-smi (a fake one first on PATH)', async () => {
    const env = fakeNvidiaSmi(
      'two-gpus',
      [
        `[ "$1 $2" = "${'--query-gpu=index,name,memory.total --format=csv,noheader,nounits'}" ] || exit 9`,
        'echo "1, NVIDIA A100-SXM4-80GB, 81920"',
        'echo "0, NVIDIA GeForce RTX 4090, 24564"',
      ].join('\n'),
    );
    const m = await detectResources({ nvidiaSmi: { env } });
    expect(m.warnings).toEqual([]);
    expect(m.resources.gpus).toEqual([
      { index: 0, model: 'NVIDIA GeForce RTX 4090', memoryMb: 24564 },
      { index: 1, model: 'NVIDIA A100-SXM4-80GB', memoryMb: 81920 },
    ]);
    expect(
      agentCapabilities({ ...m, gpus: m.resources.gpus, taskNames: ['thumb'], extra: ['ffmpeg'] }),
    ).toEqual(
      [`arch:${process.arch}`, 'ffmpeg', 'gpu', `os:${process.platform}`, 'task:thumb'].sort(),
    );
  });

  it('no nvidia-smi: no GPUs, no warning; garbage or failure: a warning, no GPUs', async () => {
    const empty = join(box.root, 'empty-path');
    mkdirSync(empty, { recursive: true });
    const none = await detectResources({ nvidiaSmi: { env: { PATH: empty } } });
    expect(none.resources.gpus).toEqual([]);
    expect(none.warnings).toEqual([]);

    const garbage = await detectResources({
      nvidiaSmi: { env: fakeNvidiaSmi('garbage', 'echo "this is not csv"') },
    });
    expect(garbage.resources.gpus).toEqual([]);
    expect(garbage.warnings.join()).toMatch(/unexpected nvidia-smi line.*no GPUs detected/);

    const failing = await detectResources({
      nvidiaSmi: {
        env: fakeNvidiaSmi(
          'failing',
          'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9',
        ),
      },
    });
    expect(failing.resources.gpus).toEqual([]);
    expect(failing.warnings.join()).toMatch(/failed.*could not communicate/);
  });

  it('parses odd nvidia-smi output strictly', () => {
    expect(parseNvidiaSmi('0, Model, With, Commas, [N/A]\n\n')).toEqual([
      { index: 0, model: 'Model, With, Commas', memoryMb: 0 },
    ]);
    expect(() => parseNvidiaSmi('0, A, 10\n0, B, 10')).toThrow(/twice/);
    expect(() => parseNvidiaSmi('x, A, 10')).toThrow(/unexpected/);
  });

  it('config overrides everything detected', async () => {
    const gpus = [{ index: 3, model: 'Fake', memoryMb: 1 }];
    const m = await detectResources({
      overrides: { cpu: 1.5, memoryMb: 512, gpus, os: 'plan9', arch: 'mips', hostname: 'h' },
    });
    expect(m).toMatchObject({
      hostname: 'h',
      os: 'plan9',
      arch: 'mips',
      resources: { cpu: 1.5, memoryMb: 512, gpus },
    });
    expect(agentCapabilities({ os: 'linux', arch: 'x64', gpus, exclude: ['gpu'] })).toEqual([
      'arch:x64',
      'os:linux',
    ]);
  });
});

describe('ResourcePool', () => {
  const gpus = [
    { index: 0, model: 'A', memoryMb: 1 },
    { index: 1, model: 'B', memoryMb: 1 },
  ];

  it('gives two 1-GPU jobs different GPUs and refuses a third', () => {
    const pool = createResourcePool({ cpu: 8, memoryMb: 1000, gpus, maxJobs: 8 });
    const a = pool.reserve('a', { gpus: 1 });
    const b = pool.reserve('b', { gpus: 1 });
    expect(new Set([...a.gpus, ...b.gpus])).toEqual(new Set([0, 1]));
    expect(() => pool.reserve('c', { gpus: 1 })).toThrow(ResourceConflictError);
    expect(pool.whyNot({ gpus: 1 })?.code).toBe('GPU');
    pool.release('a');
    expect(pool.reserve('c', { gpus: 1 }).gpus).toEqual(a.gpus);
  });

  it("accepts the server's GPU assignment and refuses one that conflicts", () => {
    const pool = createResourcePool({ cpu: 8, memoryMb: 1000, gpus, maxJobs: 8 });
    expect(pool.reserve('a', { gpus: [1] }).gpus).toEqual([1]);
    expect(() => pool.reserve('b', { gpus: [1] })).toThrow(/GPU 1 assigned to b is held by a/);
    expect(() => pool.reserve('b', { gpus: [5] })).toThrow(/GPU 5 .* does not exist here/);
    expect(pool.reserve('b', { gpus: [0] }).gpus).toEqual([0]);
    expect(pool.free().gpus).toEqual([]);
  });

  it('never over-commits CPU (fractional), memory or maxJobs; release frees', () => {
    const pool = createResourcePool({ cpu: 1, memoryMb: 1000, gpus: [], maxJobs: 4 });
    pool.reserve('a', { cpu: 0.1 });
    pool.reserve('b', { cpu: 0.2 });
    pool.reserve('c', { cpu: 0.7 }); // 0.1 + 0.2 + 0.7 = 1 exactly, no float drift
    expect(pool.whyNot({ cpu: 0.001 })?.code).toBe('CPU');
    expect(pool.reserve('d', { cpu: 0, memoryMb: 1000 }).memoryMb).toBe(1000);
    expect(() => pool.reserve('e', { cpu: 0 })).toThrow(/maxJobs 4/);
    expect(pool.free()).toEqual({ cpu: 0, memoryMb: 0, gpus: [], jobs: 0 });
    expect(pool.release('d')).toBe(true);
    expect(pool.release('d')).toBe(false);
    expect(() => pool.reserve('e', { memoryMb: 1001 })).toThrow(
      expect.objectContaining({ code: 'MEMORY' }),
    );
    expect(() => pool.reserve('a', {})).toThrow(expect.objectContaining({ code: 'DUPLICATE' }));
    expect(pool.free()).toEqual({ cpu: 0, memoryMb: 1000, gpus: [], jobs: 1 });
  });
});

describe('cpuThreshold guard', () => {
  it('measures load from /proc/stat deltas and gates new work', () => {
    let now = 0;
    let t: CpuTimes = { busy: 0, total: 0 };
    const guard = createCpuLoadGuard({
      thresholdPercent: 50,
      windowMs: 1000,
      readTimes: () => t,
      now: () => now,
    });
    try {
      expect(guard.loadPercent()).toBeUndefined();
      expect(guard.mayTakeWork()).toBe(true);
      now = 500;
      t = { busy: 80, total: 100 };
      guard.sample();
      expect(guard.loadPercent()).toBe(80);
      expect(guard.mayTakeWork()).toBe(false);
      // Two windows later the busy period has slid out.
      now = 1500;
      t = { busy: 90, total: 200 };
      guard.sample();
      now = 2600;
      t = { busy: 100, total: 300 };
      guard.sample();
      expect(guard.loadPercent()).toBe(10);
      expect(guard.mayTakeWork()).toBe(true);
    } finally {
      guard.close();
    }
  });

  it.skipIf(!readCpuTimes())('reads the real /proc/stat', () => {
    const t = readCpuTimes()!;
    expect(t.total).toBeGreaterThan(t.busy);
    const guard = createCpuLoadGuard({ thresholdPercent: 100 });
    expect(guard.mayTakeWork()).toBe(true);
    guard.close();
  });
});
