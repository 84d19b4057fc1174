import { describe, expect, it } from 'vitest';
import { makeAgent, makeJob, T0, claim, ids, submit } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeSubmit(s: SuiteContext): void {
  describe('jobsSubmit / jobGet', () => {
    it('stores a job and reads it back unchanged', async () => {
      const job = makeJob({
        name: 'one',
        tags: { team: 'a' },
        env: { A: '1' },
        priority: 'high',
        maxAttempts: 3,
        requires: { memoryMb: 10 },
      });
      const [r] = await s.store.jobsSubmit({ jobs: [job] });
      expect(r).toEqual({ job, created: true });
      expect(await s.store.jobGet({ id: job.id })).toEqual(job);
    });

    it('round-trips every field of a task job', async () => {
      const job = makeJob({
        task: 'thumbnail',
        input: { url: 'https://example.com/a.png', sizes: [1, 2], nested: { x: null } },
        queue: 'media',
        targetAgent: 'mac-1',
        pool: 'studio',
        timeoutSec: 12.5,
        backoff: { type: 'fixed', delaySec: 3 },
        expireAfterSec: 60,
        idempotencyKey: 'idem-rt',
        requires: { cpu: 0.5, capabilities: ['b', 'a'], gpus: 1, gpuMemoryMb: 1000 },
      });
      await submit(s.store, job);
      expect(await s.store.jobGet({ id: job.id })).toEqual(job);
    });

    it('returns null for an unknown id', async () => {
      expect(await s.store.jobGet({ id: 'no-such-job' })).toBeNull();
    });

    it('stores a job with a future runAt as scheduled', async () => {
      const job = makeJob({ delaySec: 60 });
      await submit(s.store, job);
      const got = await s.store.jobGet({ id: job.id });
      expect(got?.state).toBe('scheduled');
      expect(got?.runAt).toBe(T0 + 60_000);
      const counts = await s.store.countsByState();
      expect(counts.scheduled).toBe(1);
      expect(counts.queued).toBe(0);
    });

    it('stores a batch and answers in input order', async () => {
      const jobs = [1, 2, 3, 4, 5].map((i) =>
        makeJob({ name: `b${i}`, priority: i % 2 === 0 ? 'low' : 'high' }),
      );
      const out = await s.store.jobsSubmit({ jobs });
      expect(ids(out)).toEqual(ids(jobs));
      expect(out.every((r) => r.created)).toBe(true);
      expect((await s.store.countsByState()).queued).toBe(5);
    });

    it('stores a batch all or none: a job the database refuses rolls the whole batch back', async () => {
      const existing = makeJob();
      await submit(s.store, existing);
      const classesBefore = await s.store.classesList({ afterId: 0 });
      const a = makeJob({ requires: { capabilities: ['only-in-rolled-back-batch'] } });
      const b = makeJob({ queue: 'rolled-back-queue', tags: { k: 'v' } });
      const duplicate = { ...makeJob(), id: existing.id };
      await expect(s.store.jobsSubmit({ jobs: [a, b, duplicate] })).rejects.toThrow();

      expect(await s.store.jobGet({ id: a.id })).toBeNull();
      expect(await s.store.jobGet({ id: b.id })).toBeNull();
      expect((await s.store.countsByState()).queued).toBe(1);
      expect((await s.store.queuesList()).map((q) => q.name)).toEqual(['default']);
      expect(await s.store.classesList({ afterId: 0 })).toEqual(classesBefore);
      expect((await s.store.jobsList({ tag: { key: 'k', value: 'v' }, limit: 10 })).jobs).toEqual(
        [],
      );

      // The class the failed batch would have created works when submitted again.
      expect((await s.store.jobsSubmit({ jobs: [a] }))[0]?.created).toBe(true);
      expect((await s.store.classesList({ afterId: 0 })).length).toBe(classesBefore.length + 1);
      const agent = makeAgent({ capabilities: ['only-in-rolled-back-batch'] });
      expect(ids(await claim(s.store, agent, { now: T0 + 1 }))).toContain(a.id);
    });

    it('returns the existing job, not created, for a repeated idempotency key', async () => {
      const first = makeJob({ idempotencyKey: 'k1', name: 'first' });
      const second = makeJob({ idempotencyKey: 'k1', name: 'second' }, { now: T0 + 5 });
      await submit(s.store, first);
      const [r] = await s.store.jobsSubmit({ jobs: [second] });
      expect(r).toEqual({ job: first, created: false });
      expect(await s.store.jobGet({ id: second.id })).toBeNull();
      expect((await s.store.countsByState()).queued).toBe(1);
    });

    it('honours an idempotency key repeated within one batch', async () => {
      const a = makeJob({ idempotencyKey: 'k2' });
      const b = makeJob({ idempotencyKey: 'k2' });
      const c = makeJob();
      const out = await s.store.jobsSubmit({ jobs: [a, b, c] });
      expect(out.map((r) => r.created)).toEqual([true, false, true]);
      expect(out[1]?.job.id).toBe(a.id);
      expect((await s.store.countsByState()).queued).toBe(2);
    });

    it('keeps the idempotency key after the first job finished', async () => {
      const a = makeJob({ idempotencyKey: 'k3' });
      await submit(s.store, a);
      await s.store.jobCancel({ id: a.id, now: T0 + 1 });
      const [r] = await s.store.jobsSubmit({ jobs: [makeJob({ idempotencyKey: 'k3' })] });
      expect(r?.created).toBe(false);
      expect(r?.job.id).toBe(a.id);
      expect(r?.job.state).toBe('canceled');
    });
  });
}
