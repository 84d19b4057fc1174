import { describe, expect, it } from 'vitest';
import { claim, ids, makeAgent, makeJob, report, startJob, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

const gpuBox = () =>
  makeAgent({
    resources: {
      cpu: 16,
      memoryMb: 64_000,
      gpus: [
        { index: 0, model: 'mid', memoryMb: 24_000 },
        { index: 1, model: 'small', memoryMb: 8_000 },
        { index: 2, model: 'big', memoryMb: 80_000 },
      ],
    },
  });

export function describeClaimResources(s: SuiteContext): void {
  describe('jobsClaim: resources', () => {
    it('takes jobs while cpu fits, and a second claim does not over-commit', async () => {
      const agent = makeAgent({ resources: { cpu: 4, memoryMb: 1_000, gpus: [] } });
      const [a, b] = [makeJob({ requires: { cpu: 3 } }), makeJob({ requires: { cpu: 3 } })];
      await submit(s.store, a, b);
      const first = await claim(s.store, agent, { max: 10 });
      expect(ids(first)).toEqual([a.id]);
      expect(await claim(s.store, agent, { max: 10 })).toEqual([]);
      expect((await report(s.store, first[0]!.job, { outcome: 'succeeded' }, T0 + 1)).ok).toBe(
        true,
      );
      expect(ids(await claim(s.store, agent, { max: 10, now: T0 + 2 }))).toEqual([b.id]);
    });

    it('takes jobs while memory fits', async () => {
      const agent = makeAgent({ resources: { cpu: 8, memoryMb: 1_000, gpus: [] } });
      await submit(
        s.store,
        makeJob({ requires: { memoryMb: 600 } }),
        makeJob({ requires: { memoryMb: 600 } }),
        makeJob({ requires: { memoryMb: 400 } }),
      );
      const claimed = await claim(s.store, agent);
      expect(claimed.map((c) => c.job.requires.memoryMb)).toEqual([600, 400]);
      expect(await claim(s.store, agent)).toEqual([]);
    });

    it('fills fractional and zero cpu exactly', async () => {
      const agent = makeAgent({ resources: { cpu: 1, memoryMb: 1_000, gpus: [] } });
      await submit(
        s.store,
        ...[1, 2, 3, 4].map(() => makeJob({ requires: { cpu: 0.25 } })),
        makeJob({ requires: { cpu: 0.25 } }),
        makeJob({ task: 'noop' }),
      );
      const claimed = await claim(s.store, makeAgent({ ...agent, capabilities: ['task:noop'] }));
      expect(claimed.map((c) => c.job.requires.cpu)).toEqual([0.25, 0.25, 0.25, 0.25, 0]);
    });

    it('respects maxJobs across claims', async () => {
      const agent = makeAgent({ maxJobs: 2 });
      await submit(s.store, ...[1, 2, 3, 4, 5].map(() => makeJob({ requires: { cpu: 0 } })));
      expect(await claim(s.store, agent, { max: 10 })).toHaveLength(2);
      expect(await claim(s.store, agent, { max: 10 })).toHaveLength(0);
      expect(await claim(s.store, makeAgent({ maxJobs: 2 }), { max: 10 })).toHaveLength(2);
    });

    it('skips a class that does not fit and takes a later one that does', async () => {
      const agent = makeAgent({ resources: { cpu: 4, memoryMb: 1_000, gpus: [] } });
      await startJob(s.store, agent, { requires: { cpu: 3 } });
      const big = makeJob({ priority: 'critical', requires: { cpu: 2 } }, { now: T0 + 1 });
      const big2 = makeJob({ priority: 'critical', requires: { cpu: 2 } }, { now: T0 + 1 });
      const small = makeJob({ priority: 'low', requires: { cpu: 1 } }, { now: T0 + 1 });
      await submit(s.store, big, big2, small);
      expect(ids(await claim(s.store, agent, { now: T0 + 2 }))).toEqual([small.id]);
    });

    it('reserves GPUs best-fit: the smallest GPU that has the memory', async () => {
      const agent = gpuBox();
      const g6 = makeJob({ requires: { gpuMemoryMb: 6_000 } });
      const g20 = makeJob({ requires: { gpuMemoryMb: 20_000 } });
      const any = makeJob({ requires: { gpus: 1 } });
      const more = makeJob({ requires: { gpus: 1 } });
      await submit(s.store, g6, g20, any, more);
      const claimed = await claim(s.store, agent);
      expect(claimed.map((c) => [c.job.id, c.job.gpus])).toEqual([
        [g6.id, [1]],
        [g20.id, [0]],
        [any.id, [2]],
      ]);
      expect((await s.store.jobGet({ id: g6.id }))?.gpus).toEqual([1]);
      // All GPUs are reserved by running attempts: the next claim sees it.
      expect(await claim(s.store, agent)).toEqual([]);
      expect((await report(s.store, claimed[1]!.job, { outcome: 'succeeded' }, T0 + 1)).ok).toBe(
        true,
      );
      const next = await claim(s.store, agent, { now: T0 + 2 });
      expect(next.map((c) => [c.job.id, c.job.gpus])).toEqual([[more.id, [0]]]);
    });

    it('reserves several GPUs for one job and leaves big GPUs for jobs that need them', async () => {
      const agent = gpuBox();
      const two = makeJob({ requires: { gpus: 2 } });
      const needsBig = makeJob({ requires: { gpuMemoryMb: 50_000 } }, { now: T0 + 1 });
      await submit(s.store, two, needsBig);
      const claimed = await claim(s.store, agent, { now: T0 + 1 });
      expect(claimed.map((c) => c.job.gpus)).toEqual([[0, 1], [2]]);
    });

    it('does not claim a GPU job when the free GPUs lack the memory', async () => {
      const agent = gpuBox();
      await startJob(s.store, agent, { requires: { gpuMemoryMb: 50_000 } });
      await submit(s.store, makeJob({ requires: { gpuMemoryMb: 30_000 } }, { now: T0 + 1 }));
      expect(await claim(s.store, agent, { now: T0 + 1 })).toEqual([]);
      const small = makeJob({ requires: { gpuMemoryMb: 1_000 } }, { now: T0 + 2 });
      await submit(s.store, small);
      expect((await claim(s.store, agent, { now: T0 + 2 })).map((c) => c.job.gpus)).toEqual([[1]]);
    });
  });
}
