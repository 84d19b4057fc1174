import { describe, expect, it } from 'vitest';
import { claim, ids, makeAgent, makeJob, report, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeJobsGet(s: SuiteContext): void {
  describe('jobsGet', () => {
    it('reads several jobs in one call, in the order asked, each as jobGet reads it', async () => {
      const jobs = await submit(
        s.store,
        makeJob({ name: 'a', priority: 'high' }),
        makeJob({ name: 'b', tags: { team: 'x' } }),
        makeJob({ name: 'c', delaySec: 60 }),
        makeJob({ task: 'thumbnail', input: { url: 'u' }, queue: 'media' }),
        makeJob({ name: 'e', requires: { memoryMb: 10 } }),
      );
      // Some move on: running, finished, canceled — read as they are now.
      const agent = makeAgent();
      const [first, second] = await claim(s.store, agent, { max: 2, now: T0 + 1 });
      await report(s.store, second!.job, { outcome: 'succeeded' }, T0 + 2);
      await s.store.jobCancel({ id: jobs[2]!.id, now: T0 + 3 });

      const asked = [jobs[4]!, jobs[2]!, jobs[0]!, jobs[3]!, jobs[1]!].map((j) => j.id);
      const got = await s.store.jobsGet({ ids: asked });
      expect(ids(got)).toEqual(asked);
      for (const job of got) expect(job).toEqual(await s.store.jobGet({ id: job.id }));
      const states = new Map(got.map((j) => [j.id, j.state]));
      expect(states.get(first!.job.id)).toBe('running');
      expect(states.get(second!.job.id)).toBe('succeeded');
      expect(states.get(jobs[2]!.id)).toBe('canceled');
    });

    it('leaves out unknown ids and answers a repeated id once, at its first place', async () => {
      const [a, b] = await submit(s.store, makeJob(), makeJob());
      const odd = ['no-such-job', 'x"y,{z}\\', "it's", '', 'NULL'];
      const got = await s.store.jobsGet({ ids: [odd[0]!, b!.id, a!.id, b!.id, ...odd.slice(1)] });
      expect(ids(got)).toEqual([b!.id, a!.id]);
      expect(await s.store.jobsGet({ ids: odd })).toEqual([]);
    });

    it('reads nothing for no ids', async () => {
      await submit(s.store, makeJob());
      expect(await s.store.jobsGet({ ids: [] })).toEqual([]);
    });

    it('reads a batch of hundreds, more than one change notification names', async () => {
      const jobs = await submit(
        s.store,
        ...Array.from({ length: 400 }, (_, i) => makeJob({ name: `n${i}` })),
      );
      const asked = ids(jobs).reverse();
      expect(ids(await s.store.jobsGet({ ids: asked }))).toEqual(asked);
    });

    it('leaves out a purged job', async () => {
      const [gone, kept] = await submit(s.store, makeJob(), makeJob());
      await s.store.jobCancel({ id: gone!.id, now: T0 + 1 });
      expect(await s.store.jobsPurgeFinished({ before: T0 + 2, limit: 10 })).toBe(1);
      expect(ids(await s.store.jobsGet({ ids: [gone!.id, kept!.id] }))).toEqual([kept!.id]);
    });
  });
}
