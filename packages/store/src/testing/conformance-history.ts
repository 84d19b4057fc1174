import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../store.js';
import { claim, makeAgent, makeJob, report, startJob, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

/** The fields a test checks, in order: who ran it, how it ended. */
const brief = (a: AttemptRecord) => [a.attempt, a.agentName, a.outcome];

export function describeAttemptHistory(s: SuiteContext): void {
  describe('attemptsList: one record per attempt', () => {
    it('lists a failed attempt, its retry on another agent and the success, in order', async () => {
      const first = makeAgent({ name: 'first' });
      const second = makeAgent({ name: 'second' });
      const job = await startJob(s.store, first, {
        maxAttempts: 2,
        backoff: { type: 'fixed', delaySec: 1 },
      });
      expect(await s.store.attemptsList({ jobId: job.id })).toEqual([
        {
          jobId: job.id,
          attempt: 1,
          agentId: first.id,
          agentName: 'first',
          leaseId: job.leaseId,
          startedAt: T0,
          endedAt: null,
          outcome: 'running',
          exitCode: null,
          signal: null,
          error: null,
        },
      ]);
      const error = { code: 'EXIT_NONZERO' as const, message: 'exit 3' };
      await report(s.store, job, { outcome: 'failed', exitCode: 3, error }, T0 + 100);
      await s.store.jobsPromoteDue({ now: T0 + 2_000, limit: 10 });
      const [retried] = await claim(s.store, second, { now: T0 + 2_500 });
      expect(retried?.job.agentName).toBe('second');
      await report(
        s.store,
        retried!.job,
        { outcome: 'succeeded', exitCode: 0, signal: undefined },
        T0 + 3_000,
      );

      const attempts = await s.store.attemptsList({ jobId: job.id });
      expect(attempts).toEqual([
        {
          jobId: job.id,
          attempt: 1,
          agentId: first.id,
          agentName: 'first',
          leaseId: job.leaseId,
          startedAt: T0,
          endedAt: T0 + 100,
          outcome: 'failed',
          exitCode: 3,
          signal: null,
          error,
        },
        {
          jobId: job.id,
          attempt: 2,
          agentId: second.id,
          agentName: 'second',
          leaseId: retried!.job.leaseId,
          startedAt: T0 + 2_500,
          endedAt: T0 + 3_000,
          outcome: 'succeeded',
          exitCode: 0,
          signal: null,
          error: null,
        },
      ]);
    });

    it('records a lease lost to reaping as agent-lost, and the late report adds nothing', async () => {
      const gone = makeAgent({ name: 'gone' });
      await s.store.agentUpsert({ agent: gone });
      const job = await startJob(s.store, gone, { maxAttempts: 2 });
      await s.store.agentsReap({ seenBefore: T0 + 5_000, now: T0 + 6_000 });
      const late = await report(s.store, job, { outcome: 'succeeded', exitCode: 0 }, T0 + 7_000);
      expect(late.ok).toBe(false);
      const attempts = await s.store.attemptsList({ jobId: job.id });
      expect(attempts.map(brief)).toEqual([[1, 'gone', 'agent-lost']]);
      expect(attempts[0]).toMatchObject({
        endedAt: T0 + 6_000,
        exitCode: null,
        error: { code: 'AGENT_LOST' },
      });
    });

    it('records the running attempts of a revoked agent as agent-lost', async () => {
      const agent = makeAgent({ name: 'revoked' });
      await s.store.agentUpsert({ agent });
      const job = await startJob(s.store, agent);
      await s.store.agentRevoke({ id: agent.id, now: T0 + 50 });
      expect((await s.store.attemptsList({ jobId: job.id })).map(brief)).toEqual([
        [1, 'revoked', 'agent-lost'],
      ]);
    });

    it('records a hand-back, and the next run keeps its attempt number', async () => {
      const draining = makeAgent({ name: 'draining' });
      const other = makeAgent({ name: 'other' });
      const job = await startJob(s.store, draining);
      await report(s.store, job, { outcome: 'handback' }, T0 + 10);
      const [again] = await claim(s.store, other, { now: T0 + 20 });
      const attempts = await s.store.attemptsList({ jobId: job.id });
      expect(attempts.map(brief)).toEqual([
        [1, 'draining', 'handed-back'],
        [1, 'other', 'running'],
      ]);
      expect(attempts[0]).toMatchObject({ startedAt: T0, endedAt: T0 + 10, error: null });
      expect(attempts[1]).toMatchObject({ leaseId: again!.job.leaseId, startedAt: T0 + 20 });
    });

    it('records a canceled running attempt once the agent reports it', async () => {
      const agent = makeAgent({ name: 'runner' });
      const job = await startJob(s.store, agent, { maxAttempts: 3 });
      await s.store.jobCancel({ id: job.id, now: T0 + 5 });
      // Asking for the cancel ends nothing: the attempt runs until the agent has killed it.
      expect((await s.store.attemptsList({ jobId: job.id })).map(brief)).toEqual([
        [1, 'runner', 'running'],
      ]);
      await report(
        s.store,
        job,
        { outcome: 'failed', signal: 'SIGTERM', error: { code: 'CANCELED', message: 'killed' } },
        T0 + 9,
      );
      const attempts = await s.store.attemptsList({ jobId: job.id });
      expect(attempts.map(brief)).toEqual([[1, 'runner', 'canceled']]);
      expect(attempts[0]).toMatchObject({ endedAt: T0 + 9, signal: 'SIGTERM' });
    });

    it('records a server-side timeout as timed-out', async () => {
      const agent = makeAgent({ name: 'slow' });
      const job = await startJob(s.store, agent, { timeoutSec: 10, maxAttempts: 2 });
      await s.store.jobsTimeoutDue({ now: T0 + 11_000, graceMs: 0, limit: 10 });
      const attempts = await s.store.attemptsList({ jobId: job.id });
      expect(attempts.map(brief)).toEqual([[1, 'slow', 'timed-out']]);
      expect(attempts[0]?.error?.code).toBe('TIMEOUT');
    });

    it('adds nothing for a stale report, nor for claims, progress or a retry', async () => {
      const agent = makeAgent({ name: 'a' });
      const job = await startJob(s.store, agent);
      const stale = await report(s.store, job, { outcome: 'succeeded', exitCode: 0 }, T0 + 1, {
        leaseId: 'not-the-lease',
      });
      expect(stale.ok).toBe(false);
      const other = await report(s.store, job, { outcome: 'succeeded' }, T0 + 1, {
        agentId: 'not-the-agent',
      });
      expect(other.ok).toBe(false);
      await s.store.jobsProgress({
        agentId: agent.id,
        reports: [{ jobId: job.id, leaseId: job.leaseId!, percent: 50 }],
      });
      expect((await s.store.attemptsList({ jobId: job.id })).map(brief)).toEqual([
        [1, 'a', 'running'],
      ]);
      await report(s.store, job, { outcome: 'succeeded', exitCode: 0 }, T0 + 2);
      await report(s.store, job, { outcome: 'succeeded', exitCode: 0 }, T0 + 3);
      await s.store.jobRetry({ id: job.id, now: T0 + 4 });
      expect((await s.store.attemptsList({ jobId: job.id })).map(brief)).toEqual([
        [1, 'a', 'succeeded'],
      ]);
    });

    it('lists nothing for a job that never ran, and refuses an unknown job', async () => {
      const [job] = await submit(s.store, makeJob());
      expect(await s.store.attemptsList({ jobId: job!.id })).toEqual([]);
      await expect(s.store.attemptsList({ jobId: 'no-such-job' })).rejects.toMatchObject({
        code: 'JOB_NOT_FOUND',
      });
    });

    it('records every attempt a batch of completions ends', async () => {
      const agent = makeAgent({ name: 'batch' });
      await submit(s.store, ...Array.from({ length: 50 }, () => makeJob({ queue: 'many' })));
      const claimed = await claim(s.store, agent, { max: 50, now: T0 + 1 });
      expect(claimed).toHaveLength(50);
      await s.store.jobsComplete({
        agentId: agent.id,
        reports: claimed.map((c, i) =>
          i % 2 === 0
            ? { jobId: c.job.id, leaseId: c.job.leaseId!, outcome: 'succeeded', exitCode: 0 }
            : {
                jobId: c.job.id,
                leaseId: c.job.leaseId!,
                outcome: 'failed',
                exitCode: i,
                error: { code: 'EXIT_NONZERO', message: `exit ${i}` },
              },
        ),
        now: T0 + 2,
      });
      for (const [i, c] of claimed.entries()) {
        const attempts = await s.store.attemptsList({ jobId: c.job.id });
        expect(attempts.map((a) => [a.outcome, a.exitCode])).toEqual([
          i % 2 === 0 ? ['succeeded', 0] : ['failed', i],
        ]);
      }
    });

    it('forgets the attempts of a job removed by retention', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent);
      await report(s.store, job, { outcome: 'succeeded', exitCode: 0 }, T0 + 1);
      expect(await s.store.jobsPurgeFinished({ before: T0 + 2, limit: 10 })).toBe(1);
      await expect(s.store.attemptsList({ jobId: job.id })).rejects.toMatchObject({
        code: 'JOB_NOT_FOUND',
      });
    });
  });
}
