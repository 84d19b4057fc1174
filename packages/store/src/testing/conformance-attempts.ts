import { describe, expect, it } from 'vitest';
import { claim, makeAgent, report, startJob, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeAttempts(s: SuiteContext): void {
  describe('jobsComplete: outcomes and fencing', () => {
    it('records success', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const r = await report(
        s.store,
        job,
        {
          outcome: 'succeeded',
          exitCode: 0,
          result: { ok: [1, 2] },
          usage: { wallSec: 1.5, maxRssMb: 20 },
        },
        T0 + 2_000,
      );
      expect(r.ok).toBe(true);
      expect(r.job).toMatchObject({
        state: 'succeeded',
        exitCode: 0,
        result: { ok: [1, 2] },
        usage: { wallSec: 1.5, maxRssMb: 20 },
      });
      expect(r.job).toMatchObject({
        finishedAt: T0 + 2_000,
        leaseId: null,
        gpus: [],
        error: null,
        agentId: agent.id,
      });
      expect(await s.store.jobGet({ id: job.id })).toEqual(r.job);
      const counts = await s.store.countsByState();
      expect([counts.running, counts.succeeded]).toEqual([0, 1]);
      expect(await s.store.jobsRunningOnAgent({ agentId: agent.id })).toEqual([]);
    });

    it('keeps a null result distinct from no result', async () => {
      const agent = makeAgent({ capabilities: ['task:t'] });
      const job = await startJob(s.store, agent, { task: 't' });
      await report(s.store, job, { outcome: 'succeeded', result: null }, T0 + 1);
      expect((await s.store.jobGet({ id: job.id }))?.result).toBeNull();
    });

    it('retries a failure as attempt + 1 after backoff, then runs it again', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent, {
        maxAttempts: 3,
        backoff: { type: 'fixed', delaySec: 10 },
      });
      const error = { code: 'EXIT_NONZERO' as const, message: 'exit 1' };
      const r = await report(s.store, job, { outcome: 'failed', exitCode: 1, error }, T0 + 1_000);
      expect(r.ok).toBe(true);
      expect(r.job).toMatchObject({
        state: 'scheduled',
        attempt: 2,
        runAt: T0 + 11_000,
        error,
        exitCode: 1,
        leaseId: null,
        startedAt: null,
      });
      expect((await s.store.countsByState()).scheduled).toBe(1);
      expect(await s.store.jobsPromoteDue({ now: T0 + 10_999, limit: 10 })).toEqual([]);
      expect(
        (await s.store.jobsPromoteDue({ now: T0 + 11_000, limit: 10 })).map((j) => j.state),
      ).toEqual(['queued']);
      const [again] = await claim(s.store, agent, { now: T0 + 12_000 });
      expect(again?.job).toMatchObject({
        id: job.id,
        attempt: 2,
        state: 'running',
        startedAt: T0 + 12_000,
      });
      expect(again?.job.leaseId).not.toBe(job.leaseId);
    });

    it('fails for good when no attempts are left', async () => {
      const job = await startJob(s.store, makeAgent());
      const r = await report(
        s.store,
        job,
        { outcome: 'failed', error: { code: 'SPAWN_FAILED', message: 'no such file' } },
        T0 + 5,
      );
      expect(r.job).toMatchObject({
        state: 'failed',
        attempt: 1,
        finishedAt: T0 + 5,
        error: { code: 'SPAWN_FAILED' },
      });
    });

    it('requeues a handback without using up the attempt', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const r = await report(s.store, job, { outcome: 'handback' }, T0 + 50);
      expect(r.job).toMatchObject({
        state: 'queued',
        attempt: 1,
        queuedAt: T0 + 50,
        leaseId: null,
        startedAt: null,
      });
      const [again] = await claim(s.store, makeAgent(), { now: T0 + 60 });
      expect(again?.job.id).toBe(job.id);
      expect(again?.job.attempt).toBe(1);
    });

    it('refuses a stale lease and changes nothing', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const before = await s.store.jobGet({ id: job.id });
      const r = await report(s.store, job, { outcome: 'succeeded' }, T0 + 1, {
        leaseId: 'not-the-lease',
      });
      expect(r.ok).toBe(false);
      expect(await s.store.jobGet({ id: job.id })).toEqual(before);
    });

    it("refuses another agent's report on a lease it does not hold", async () => {
      const job = await startJob(s.store, makeAgent());
      const before = await s.store.jobGet({ id: job.id });
      const r = await report(s.store, job, { outcome: 'failed' }, T0 + 1, {
        agentId: makeAgent().id,
      });
      expect(r.ok).toBe(false);
      expect(await s.store.jobGet({ id: job.id })).toEqual(before);
    });

    it('accepts one outcome per lease: a repeat, in the same batch or later, is stale', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const out = await s.store.jobsComplete({
        agentId: agent.id,
        reports: [
          { jobId: job.id, leaseId: job.leaseId!, outcome: 'succeeded' },
          { jobId: job.id, leaseId: job.leaseId!, outcome: 'failed' },
        ],
        now: T0 + 1,
      });
      expect(out.map((r) => r.ok)).toEqual([true, false]);
      expect((await report(s.store, job, { outcome: 'failed' }, T0 + 2)).ok).toBe(false);
      expect((await s.store.jobGet({ id: job.id }))?.state).toBe('succeeded');
    });

    it('answers a batch in order, mixing accepted, stale and unknown', async () => {
      const agent = makeAgent();
      const a = await startJob(s.store, agent);
      const b = await startJob(s.store, agent, { queue: 'b' });
      const out = await s.store.jobsComplete({
        agentId: agent.id,
        reports: [
          { jobId: 'no-such-job', leaseId: 'x', outcome: 'succeeded' },
          { jobId: a.id, leaseId: a.leaseId!, outcome: 'succeeded' },
          { jobId: b.id, leaseId: 'old', outcome: 'succeeded' },
        ],
        now: T0 + 1,
      });
      expect(out.map((r) => [r.jobId, r.ok])).toEqual([
        ['no-such-job', false],
        [a.id, true],
        [b.id, false],
      ]);
      expect(out[0]?.job).toBeNull();
      expect(out[1]?.job?.state).toBe('succeeded');
      expect((await s.store.jobGet({ id: b.id }))?.state).toBe('running');
    });
  });

  describe('jobsProgress', () => {
    it('merges progress for current leases and returns stale ones', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      const r1 = await s.store.jobsProgress({
        agentId: agent.id,
        reports: [{ jobId: job.id, leaseId: job.leaseId!, percent: 10, stage: 'load' }],
      });
      expect(r1.stale).toEqual([]);
      expect(r1.jobs.map((j) => j.progress)).toEqual([{ percent: 10, stage: 'load' }]);
      const r2 = await s.store.jobsProgress({
        agentId: agent.id,
        reports: [
          { jobId: job.id, leaseId: job.leaseId!, percent: 50 },
          { jobId: job.id, leaseId: 'gone', percent: 99 },
          { jobId: 'no-such-job', leaseId: 'gone2', percent: 1 },
        ],
      });
      expect(r2.stale).toEqual(['gone', 'gone2']);
      expect((await s.store.jobGet({ id: job.id }))?.progress).toEqual({
        percent: 50,
        stage: 'load',
      });
      const r3 = await s.store.jobsProgress({
        agentId: 'someone-else',
        reports: [{ jobId: job.id, leaseId: job.leaseId!, percent: 70 }],
      });
      expect(r3).toEqual({ stale: [job.leaseId], jobs: [] });
    });

    it('sets progress to 100 % on success and refuses progress after the attempt ended', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      await s.store.jobsProgress({
        agentId: agent.id,
        reports: [{ jobId: job.id, leaseId: job.leaseId!, percent: 40, message: 'm' }],
      });
      await report(s.store, job, { outcome: 'succeeded' }, T0 + 1);
      expect((await s.store.jobGet({ id: job.id }))?.progress).toEqual({
        percent: 100,
        message: 'm',
      });
      const late = await s.store.jobsProgress({
        agentId: agent.id,
        reports: [{ jobId: job.id, leaseId: job.leaseId!, percent: 41 }],
      });
      expect(late.stale).toEqual([job.leaseId]);
    });
  });
}
