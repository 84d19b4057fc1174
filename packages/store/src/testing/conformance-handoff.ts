import { describe, expect, it } from 'vitest';
import type { AgentRecord } from '@offload/core';
import type { Store } from '../store.js';
import { classIdOf, ids, makeAgent, makeJob, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

/** An agent stored online, and the class of `spec`'s jobs made known by one job another agent took. */
async function setUp(
  store: Store,
  agent: AgentRecord,
): Promise<{ classId: number; claim: (max?: number) => Parameters<Store['jobsClaim']>[0] }> {
  await store.agentUpsert({ agent });
  const first = makeJob();
  await submit(store, first);
  const classId = await classIdOf(store, first);
  await store.jobsClaim({
    agent: makeAgent(),
    max: 1,
    classes: [{ classId, queuedBefore: null }],
    now: T0,
  });
  return {
    classId,
    claim: (max = 1) => ({ agent, max, classes: [{ classId, queuedBefore: null }], now: T0 + 5 }),
  };
}

export function describeHandoff(s: SuiteContext): void {
  describe('jobsSubmitAndClaim: a submit handed to a waiting agent', () => {
    it('stores the jobs and claims them for the agent in the same transaction', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      const job = makeJob({}, { now: T0 + 1 });
      const { submitted, claimed } = await s.store.jobsSubmitAndClaim({
        jobs: [job],
        claim: claim(),
      });
      expect(submitted).toEqual([{ job, created: true }]);
      expect(ids(claimed)).toEqual([job.id]);
      expect(claimed[0]!.job).toMatchObject({
        state: 'running',
        agentId: agent.id,
        startedAt: T0 + 5,
      });
      expect(claimed[0]!.payloadJson).toBe(JSON.stringify(job.payload));
      expect(await s.store.jobGet({ id: job.id })).toEqual(claimed[0]!.job);
      const counts = await s.store.countsByState();
      expect([counts.queued, counts.running]).toEqual([0, 2]);
      expect((await s.store.classesWithQueued()).size).toBe(0);
    });

    it('claims by the claim rules: the head of the class first, at most max, the rest stays queued', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      const older = makeJob({}, { now: T0 + 1 });
      await submit(s.store, older);
      const a = makeJob({}, { now: T0 + 2 });
      const b = makeJob({}, { now: T0 + 2 });
      const { submitted, claimed } = await s.store.jobsSubmitAndClaim({
        jobs: [a, b],
        claim: claim(2),
      });
      expect(submitted.map((r) => r.created)).toEqual([true, true]);
      expect(ids(claimed)).toEqual([older.id, a.id]);
      expect((await s.store.jobGet({ id: b.id }))?.state).toBe('queued');
      expect((await s.store.countsByState()).queued).toBe(1);
    });

    it('stores the new jobs in submission order, the one the claim took already claimed', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      const a = makeJob({}, { now: T0 + 1 });
      const b = makeJob({ priority: 'high' }, { now: T0 + 1 });
      const { claimed } = await s.store.jobsSubmitAndClaim({ jobs: [a, b], claim: claim(1) });
      expect(ids(claimed)).toEqual([b.id]);
      expect(await s.store.jobGet({ id: b.id })).toEqual(claimed[0]!.job);
      expect((await s.store.jobGet({ id: a.id }))?.state).toBe('queued');
      // Newest first: b was submitted after a, whatever the claim took first.
      const { jobs } = await s.store.jobsList({ limit: 2 });
      expect(jobs.map((j) => j.id)).toEqual([b.id, a.id]);
      const counts = await s.store.countsByState();
      expect([counts.queued, counts.running]).toEqual([1, 2]);
      expect(await s.store.classesWithQueued()).toEqual(new Set([await classIdOf(s.store, a)]));
    });

    it('leaves a delayed job of the submit scheduled, and one queued after the cutoff queued', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      const delayed = makeJob({ delaySec: 60 }, { now: T0 + 1 });
      const late = makeJob({}, { now: T0 + 9 });
      const request = claim(2);
      const { claimed } = await s.store.jobsSubmitAndClaim({
        jobs: [delayed, late],
        claim: {
          ...request,
          classes: request.classes.map((c) => ({ ...c, queuedBefore: T0 + 5 })),
        },
      });
      expect(claimed).toEqual([]);
      expect((await s.store.jobGet({ id: delayed.id }))?.state).toBe('scheduled');
      expect((await s.store.jobGet({ id: late.id }))?.state).toBe('queued');
    });

    it('stores a key repeated within the submit once, and claims that job once', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      const x = makeJob({ idempotencyKey: 'k-in-batch' }, { now: T0 + 1 });
      const y = makeJob({ idempotencyKey: 'k-in-batch' }, { now: T0 + 1 });
      const { submitted, claimed } = await s.store.jobsSubmitAndClaim({
        jobs: [x, y],
        claim: claim(2),
      });
      expect(submitted).toEqual([
        { job: x, created: true },
        { job: x, created: false },
      ]);
      expect(ids(claimed)).toEqual([x.id]);
      expect(await s.store.jobGet({ id: y.id })).toBeNull();
      expect((await s.store.countsByState()).running).toBe(2);
    });

    it('claims nothing for an agent the store holds as not online, and still stores the jobs', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      await s.store.agentUpdate({ id: agent.id, state: 'draining' });
      const job = makeJob();
      const { submitted, claimed } = await s.store.jobsSubmitAndClaim({
        jobs: [job],
        claim: claim(),
      });
      expect(claimed).toEqual([]);
      expect(submitted[0]?.created).toBe(true);
      expect((await s.store.jobGet({ id: job.id }))?.state).toBe('queued');
    });

    it('claims within the free resources of the agent, counting what it runs', async () => {
      const agent = makeAgent({ maxJobs: 1 });
      await s.store.agentUpsert({ agent });
      const running = makeJob();
      await submit(s.store, running);
      const classes = [{ classId: await classIdOf(s.store, running), queuedBefore: null }];
      await s.store.jobsClaim({ agent, max: 1, classes, now: T0 });
      const job = makeJob();
      const { claimed } = await s.store.jobsSubmitAndClaim({
        jobs: [job],
        claim: { agent, max: 1, classes, now: T0 },
      });
      expect(claimed).toEqual([]);
      expect((await s.store.jobGet({ id: job.id }))?.state).toBe('queued');
    });

    it('returns the existing job for a repeated idempotency key, and claims it if still queued', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      const first = makeJob({ idempotencyKey: 'k-1' });
      await submit(s.store, first);
      const again = makeJob({ idempotencyKey: 'k-1' });
      const { submitted, claimed } = await s.store.jobsSubmitAndClaim({
        jobs: [again],
        claim: claim(),
      });
      expect(submitted).toEqual([{ job: first, created: false }]);
      expect(ids(claimed)).toEqual([first.id]);
    });

    it('stores and claims nothing when the submit is refused', async () => {
      const agent = makeAgent();
      const { claim } = await setUp(s.store, agent);
      const queued = makeJob();
      await submit(s.store, queued);
      const a = makeJob();
      await expect(
        s.store.jobsSubmitAndClaim({ jobs: [a, { ...makeJob(), id: queued.id }], claim: claim() }),
      ).rejects.toThrow();
      expect(await s.store.jobGet({ id: a.id })).toBeNull();
      expect((await s.store.jobGet({ id: queued.id }))?.state).toBe('queued');
      expect((await s.store.countsByState()).running).toBe(1);
    });
  });
}
