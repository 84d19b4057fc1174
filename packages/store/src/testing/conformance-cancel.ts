import { describe, expect, it } from 'vitest';
import { makeAgent, makeJob, report, startJob, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeCancelRetryPurge(s: SuiteContext): void {
  describe('jobCancel', () => {
    it('cancels scheduled and queued jobs at once', async () => {
      const scheduled = makeJob({ delaySec: 60 });
      const queued = makeJob();
      await submit(s.store, scheduled, queued);
      for (const job of [scheduled, queued]) {
        const r = await s.store.jobCancel({ id: job.id, now: T0 + 3 });
        expect(r.immediate).toBe(true);
        expect(r.job).toMatchObject({
          state: 'canceled',
          finishedAt: T0 + 3,
          error: { code: 'CANCELED' },
        });
        expect(await s.store.jobGet({ id: job.id })).toEqual(r.job);
      }
      expect((await s.store.countsByState()).canceled).toBe(2);
      expect((await s.store.classesWithQueued()).size).toBe(0);
      expect(await s.store.jobsPromoteDue({ now: T0 + 120_000, limit: 10 })).toEqual([]);
    });

    it('asks the agent to kill a running job; its report then ends it canceled', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const other = await startJob(s.store, agent, { queue: 'other' });
      const r = await s.store.jobCancel({ id: job.id, now: T0 + 1 });
      expect(r.immediate).toBe(false);
      expect(r.job).toMatchObject({
        state: 'running',
        cancelRequested: true,
        leaseId: job.leaseId,
      });
      expect(await s.store.leasesToCancel({ agentId: agent.id })).toEqual([job.leaseId]);
      expect(await s.store.leasesToCancel({ agentId: 'someone-else' })).toEqual([]);
      const done = await report(
        s.store,
        job,
        {
          outcome: 'failed',
          signal: 'SIGTERM',
          error: { code: 'KILLED_BY_SIGNAL', message: 'SIGTERM' },
        },
        T0 + 2,
      );
      expect(done.job).toMatchObject({ state: 'canceled', finishedAt: T0 + 2 });
      expect(await s.store.leasesToCancel({ agentId: agent.id })).toEqual([]);
      expect((await s.store.jobGet({ id: other.id }))?.state).toBe('running');
    });

    it('ends a canceled running job canceled even when it is handed back', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      await s.store.jobCancel({ id: job.id, now: T0 + 1 });
      expect((await report(s.store, job, { outcome: 'handback' }, T0 + 2)).job?.state).toBe(
        'canceled',
      );
    });

    it('refuses to cancel a finished job, or one that does not exist', async () => {
      const job = await startJob(s.store, makeAgent());
      await report(s.store, job, { outcome: 'succeeded' }, T0 + 1);
      await expect(s.store.jobCancel({ id: job.id, now: T0 + 2 })).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
      await expect(s.store.jobCancel({ id: 'no-such-job', now: T0 + 2 })).rejects.toMatchObject({
        code: 'JOB_NOT_FOUND',
      });
      expect((await s.store.jobGet({ id: job.id }))?.state).toBe('succeeded');
    });
  });

  describe('jobRetry', () => {
    it('queues a failed job again as a new attempt', async () => {
      const job = await startJob(s.store, makeAgent());
      await report(s.store, job, { outcome: 'failed', exitCode: 2 }, T0 + 1);
      const r = await s.store.jobRetry({ id: job.id, now: T0 + 10 });
      expect(r).toMatchObject({
        state: 'queued',
        attempt: 2,
        queuedAt: T0 + 10,
        exitCode: null,
        error: null,
        finishedAt: null,
        agentId: null,
      });
      expect(await s.store.jobGet({ id: job.id })).toEqual(r);
      expect((await s.store.countsByState()).queued).toBe(1);
      expect((await s.store.classesWithQueued()).size).toBe(1);
    });

    it('gives a job canceled before it started the same attempt', async () => {
      const [job] = await submit(s.store, makeJob());
      await s.store.jobCancel({ id: job!.id, now: T0 + 1 });
      expect((await s.store.jobRetry({ id: job!.id, now: T0 + 2 })).attempt).toBe(1);
    });

    it('refuses to retry a live job, or one that does not exist', async () => {
      const [job] = await submit(s.store, makeJob());
      await expect(s.store.jobRetry({ id: job!.id, now: T0 + 1 })).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
      await expect(s.store.jobRetry({ id: 'no-such-job', now: T0 + 1 })).rejects.toMatchObject({
        code: 'JOB_NOT_FOUND',
      });
    });
  });

  describe('jobsPurgeFinished', () => {
    it('deletes terminal jobs finished before the cutoff, with their logs and tags', async () => {
      const agent = makeAgent();
      const old = await startJob(s.store, agent, { tags: { batch: 'old' } });
      await s.store.logsAppend({
        agentId: agent.id,
        chunks: [{ jobId: old.id, leaseId: old.leaseId!, stream: 'stdout', data: 'hi' }],
        capBytes: 1_000,
        now: T0,
      });
      await report(s.store, old, { outcome: 'succeeded' }, T0 + 1_000);
      const recent = await startJob(s.store, agent, { tags: { batch: 'old' } }, T0 + 2_000);
      await report(s.store, recent, { outcome: 'failed' }, T0 + 5_000);
      const running = await startJob(s.store, agent, { queue: 'r' });
      const [queued] = await submit(s.store, makeJob({ queue: 'q' }));

      expect(await s.store.jobsPurgeFinished({ before: T0 + 2_000, limit: 100 })).toBe(1);
      expect(await s.store.jobGet({ id: old.id })).toBeNull();
      await expect(s.store.logsRead({ jobId: old.id })).rejects.toMatchObject({
        code: 'JOB_NOT_FOUND',
      });
      expect(
        (await s.store.jobsList({ tag: { key: 'batch', value: 'old' }, limit: 10 })).jobs.map(
          (j) => j.id,
        ),
      ).toEqual([recent.id]);
      for (const id of [recent.id, running.id, queued!.id])
        expect(await s.store.jobGet({ id })).not.toBeNull();
      const counts = await s.store.countsByState();
      expect([counts.succeeded, counts.failed, counts.running, counts.queued]).toEqual([
        0, 1, 1, 1,
      ]);
      expect(await s.store.jobsPurgeFinished({ before: T0 + 1_000_000, limit: 100 })).toBe(1);
      expect(await s.store.jobGet({ id: running.id })).not.toBeNull();
    });

    it('deletes at most limit, oldest first', async () => {
      const jobs = [makeJob(), makeJob(), makeJob()];
      await submit(s.store, ...jobs);
      for (const [i, j] of jobs.entries()) await s.store.jobCancel({ id: j.id, now: T0 + 100 - i });
      expect(await s.store.jobsPurgeFinished({ before: T0 + 1_000, limit: 2 })).toBe(2);
      expect(await s.store.jobGet({ id: jobs[0]!.id })).not.toBeNull();
      expect(await s.store.jobsPurgeFinished({ before: T0 + 1_000, limit: 2 })).toBe(1);
      expect(
        (await s.store.queuesList()).flatMap((q) => Object.values(q.counts)).every((n) => n === 0),
      ).toBe(true);
    });
  });
}
