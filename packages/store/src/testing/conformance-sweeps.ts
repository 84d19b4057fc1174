import { describe, expect, it } from 'vitest';
import { ids, makeAgent, makeJob, report, startJob, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeSweeps(s: SuiteContext): void {
  describe('due-time sweeps', () => {
    it('promotes scheduled jobs whose runAt has come, oldest due first, up to limit', async () => {
      const a = makeJob({ delaySec: 10 });
      const c = makeJob({ delaySec: 30 });
      const b = makeJob({ delaySec: 20 });
      await submit(s.store, a, c, b);
      expect(await s.store.jobsPromoteDue({ now: T0 + 9_999, limit: 10 })).toEqual([]);
      const first = await s.store.jobsPromoteDue({ now: T0 + 15_000, limit: 10 });
      expect(ids(first)).toEqual([a.id]);
      expect(first[0]).toMatchObject({ state: 'queued', queuedAt: T0 + 15_000, runAt: null });
      expect(ids(await s.store.jobsPromoteDue({ now: T0 + 40_000, limit: 1 }))).toEqual([b.id]);
      expect(ids(await s.store.jobsPromoteDue({ now: T0 + 40_000, limit: 10 }))).toEqual([c.id]);
      expect((await s.store.countsByState()).queued).toBe(3);
      expect((await s.store.classesWithQueued()).size).toBe(1);
    });

    it('expires scheduled and queued jobs not started in time', async () => {
      const queued = makeJob({ expireAfterSec: 5 });
      const scheduled = makeJob({ delaySec: 10, expireAfterSec: 5 });
      const forever = makeJob();
      await submit(s.store, queued, scheduled, forever);
      expect(scheduled.expireAt).toBe(T0 + 15_000);
      expect(await s.store.jobsExpireDue({ now: T0 + 4_999, limit: 10 })).toEqual([]);
      const expired = await s.store.jobsExpireDue({ now: T0 + 5_000, limit: 10 });
      expect(ids(expired)).toEqual([queued.id]);
      expect(expired[0]).toMatchObject({
        state: 'expired',
        finishedAt: T0 + 5_000,
        error: { code: 'EXPIRED' },
      });
      expect(ids(await s.store.jobsExpireDue({ now: T0 + 20_000, limit: 10 }))).toEqual([
        scheduled.id,
      ]);
      expect((await s.store.jobGet({ id: forever.id }))?.state).toBe('queued');
      expect((await s.store.countsByState()).expired).toBe(2);
    });

    it('a retried expired job keeps no expiry: the store persists the cleared expireAt', async () => {
      const job = makeJob({ expireAfterSec: 5 });
      await submit(s.store, job);
      expect(ids(await s.store.jobsExpireDue({ now: T0 + 5_000, limit: 10 }))).toEqual([job.id]);
      const retried = await s.store.jobRetry({ id: job.id, now: T0 + 6_000 });
      expect(retried).toMatchObject({ state: 'queued', expireAt: null });
      expect(await s.store.jobGet({ id: job.id })).toEqual(retried);
      // The sweep would expire it again had the old deadline stayed in the row.
      expect(await s.store.jobsExpireDue({ now: T0 + 60_000, limit: 10 })).toEqual([]);
      expect((await s.store.jobGet({ id: job.id }))?.state).toBe('queued');
    });

    it('does not expire a job once it runs', async () => {
      const agent = makeAgent();
      const job = await startJob(s.store, agent, { expireAfterSec: 5 });
      expect(await s.store.jobsExpireDue({ now: T0 + 60_000, limit: 10 })).toEqual([]);
      expect((await s.store.jobGet({ id: job.id }))?.state).toBe('running');
    });

    it('times out running attempts past timeoutSec + grace, retrying when attempts remain', async () => {
      const agent = makeAgent();
      const once = await startJob(s.store, agent, { timeoutSec: 10 });
      const twice = await startJob(s.store, agent, {
        timeoutSec: 10,
        maxAttempts: 2,
        queue: 'b',
        backoff: { type: 'fixed', delaySec: 1 },
      });
      const later = await startJob(s.store, agent, { timeoutSec: 20, queue: 'c' });
      expect(await s.store.jobsTimeoutDue({ now: T0 + 10_499, graceMs: 500, limit: 10 })).toEqual(
        [],
      );
      const out = await s.store.jobsTimeoutDue({ now: T0 + 10_500, graceMs: 500, limit: 10 });
      expect(out.map((j) => [j.id, j.state, j.attempt])).toEqual(
        expect.arrayContaining([
          [once.id, 'failed', 1],
          [twice.id, 'scheduled', 2],
        ]),
      );
      expect(out).toHaveLength(2);
      expect(out.find((j) => j.id === once.id)?.error?.code).toBe('TIMEOUT');
      expect((await s.store.jobGet({ id: later.id }))?.state).toBe('running');
      // The agent's late report is stale.
      expect((await report(s.store, once, { outcome: 'succeeded' }, T0 + 11_000)).ok).toBe(false);
      expect(ids(await s.store.jobsTimeoutDue({ now: T0 + 60_000, graceMs: 0, limit: 1 }))).toEqual(
        [later.id],
      );
    });

    it('reports the next due time across promote, expire and timeout', async () => {
      expect(await s.store.nextDueAt({ graceMs: 500 })).toBeNull();
      await submit(s.store, makeJob({ delaySec: 10 }));
      expect(await s.store.nextDueAt({ graceMs: 500 })).toBe(T0 + 10_000);
      await submit(s.store, makeJob({ expireAfterSec: 8, queue: 'e' }));
      expect(await s.store.nextDueAt({ graceMs: 500 })).toBe(T0 + 8_000);
      await startJob(s.store, makeAgent(), { timeoutSec: 3, queue: 't' });
      expect(await s.store.nextDueAt({ graceMs: 500 })).toBe(T0 + 3_500);
      expect(await s.store.nextDueAt({ graceMs: 10_000 })).toBe(T0 + 8_000);
    });
  });
}
