import { jobClassOf, type AgentRecord } from '@offload/core';
import { JOB_STATES, type JobState } from '@offload/protocol';
import { describe, expect, it } from 'vitest';
import { claim, classIdOf, listAll, makeAgent, makeJob, report, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

/** A small deterministic generator, so the scenario is the same on every backend and run. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

export function describeQueues(s: SuiteContext): void {
  describe('queues, counts and classes', () => {
    it('keeps counts equal to a recount of the jobs after many transitions', async () => {
      const rnd = lcg(7);
      const queues = ['q1', 'q2', 'q3'];
      const jobs = Array.from({ length: 60 }, (_, i) =>
        makeJob({
          queue: queues[i % 3]!,
          priority: rnd() < 0.5 ? 'normal' : 'high',
          maxAttempts: 1 + Math.floor(rnd() * 2),
          backoff: { type: 'fixed', delaySec: 1 },
          ...(rnd() < 0.2 ? { delaySec: 5 } : {}),
          ...(rnd() < 0.2 ? { expireAfterSec: 30 } : {}),
        }),
      );
      await submit(s.store, ...jobs);
      const agents: AgentRecord[] = [makeAgent({ maxJobs: 15 }), makeAgent({ maxJobs: 15 })];
      for (const agent of agents) await s.store.agentUpsert({ agent });
      let now = T0;
      for (let round = 0; round < 6; round++) {
        now += 10_000;
        await s.store.jobsPromoteDue({ now, limit: 7 });
        for (const agent of agents) {
          for (const c of await claim(s.store, agent, { max: 10, now })) {
            const x = rnd();
            if (x < 0.3) await report(s.store, c.job, { outcome: 'succeeded' }, now);
            else if (x < 0.5) await report(s.store, c.job, { outcome: 'failed' }, now);
            else if (x < 0.6) await report(s.store, c.job, { outcome: 'handback' }, now);
            else if (x < 0.7) await s.store.jobCancel({ id: c.job.id, now });
          }
        }
        const queued = await listAll(s.store, { state: 'queued' });
        if (queued[0] !== undefined) await s.store.jobCancel({ id: queued[0].id, now });
        const failed = await listAll(s.store, { state: 'failed' });
        if (failed[0] !== undefined) await s.store.jobRetry({ id: failed[0].id, now });
        await s.store.jobsExpireDue({ now, limit: 3 });
        await s.store.jobsTimeoutDue({
          now: now + 20_000 * 1_000,
          graceMs: 0,
          limit: round === 3 ? 2 : 0,
        });
        if (round === 4) await s.store.agentsReap({ seenBefore: now, now });
        if (round === 5) await s.store.jobsPurgeFinished({ before: now - 20_000, limit: 5 });
      }

      const totals = await s.store.countsByState();
      const listed = await s.store.queuesList();
      for (const state of JOB_STATES) {
        expect(totals[state], `countsByState.${state}`).toBe(
          (await listAll(s.store, { state })).length,
        );
        for (const q of queues) {
          const counted = listed.find((x) => x.name === q)?.counts[state] ?? 0;
          expect(counted, `${q}.${state}`).toBe(
            (await listAll(s.store, { state, queue: q })).length,
          );
        }
      }
      const sum = (r: Record<JobState, number>) => Object.values(r).reduce((a, b) => a + b, 0);
      expect(sum(totals)).toBe((await listAll(s.store, {})).length);
      // The hint agrees with what is queued.
      const queuedClasses = new Set<number>();
      for (const j of await listAll(s.store, { state: 'queued' }))
        queuedClasses.add(await classIdOf(s.store, j));
      expect([...(await s.store.classesWithQueued())].sort()).toEqual([...queuedClasses].sort());
    });

    it('keeps pause flags, listing paused queues even without jobs', async () => {
      await submit(s.store, makeJob({ queue: 'busy' }));
      await s.store.queueSetPaused({ name: 'empty', paused: true });
      await s.store.queueSetPaused({ name: 'busy', paused: true });
      expect([...(await s.store.pausedQueues())].sort()).toEqual(['busy', 'empty']);
      const list = await s.store.queuesList();
      expect(list.map((q) => [q.name, q.paused])).toEqual([
        ['busy', true],
        ['empty', true],
      ]);
      expect(list[0]?.counts).toEqual({
        scheduled: 0,
        queued: 1,
        running: 0,
        succeeded: 0,
        failed: 0,
        canceled: 0,
        expired: 0,
      });
      expect(list[1]?.counts.queued).toBe(0);
      await s.store.queueSetPaused({ name: 'empty', paused: false });
      await s.store.queueSetPaused({ name: 'busy', paused: false });
      expect(await s.store.pausedQueues()).toEqual(new Set());
      expect((await s.store.queuesList()).map((q) => [q.name, q.paused])).toEqual([
        ['busy', false],
      ]);
    });

    it('lists classes incrementally and reports which have queued jobs', async () => {
      expect(await s.store.classesList({ afterId: 0 })).toEqual([]);
      const a = makeJob({ queue: 'a', requires: { capabilities: ['x'], gpus: 1 }, pool: 'p' });
      const a2 = makeJob({ queue: 'a', requires: { capabilities: ['x'], gpus: 1 }, pool: 'p' });
      const later = makeJob({ queue: 'b', delaySec: 5 });
      await submit(s.store, a, a2, later);
      const classes = await s.store.classesList({ afterId: 0 });
      expect(classes.map((c) => c.jobClass)).toEqual([jobClassOf(a), jobClassOf(later)]);
      expect(classes[1]!.id).toBeGreaterThan(classes[0]!.id);
      const last = classes[1]!.id;
      expect(await s.store.classesList({ afterId: last })).toEqual([]);
      const c = makeJob({ targetAgent: 'mac' });
      await submit(s.store, c);
      expect((await s.store.classesList({ afterId: last })).map((x) => x.jobClass)).toEqual([
        jobClassOf(c),
      ]);

      const idA = classes[0]!.id;
      expect(await s.store.classesWithQueued()).toEqual(
        new Set([idA, await classIdOf(s.store, c)]),
      );
      await s.store.jobsPromoteDue({ now: T0 + 5_000, limit: 10 });
      expect((await s.store.classesWithQueued()).has(last)).toBe(true);
      const gpuAgent = makeAgent({
        capabilities: ['x'],
        pools: ['p'],
        resources: { cpu: 4, memoryMb: 100, gpus: [{ index: 0, model: 'g', memoryMb: 1 }] },
      });
      const [got] = await claim(s.store, gpuAgent, { max: 5, now: T0 + 6_000 });
      expect((await s.store.classesWithQueued()).has(idA)).toBe(true); // a2 still queued (one GPU)
      await report(s.store, got!.job, { outcome: 'succeeded' }, T0 + 7_000);
      await claim(s.store, gpuAgent, { max: 5, now: T0 + 8_000 });
      expect((await s.store.classesWithQueued()).has(idA)).toBe(false);
    });
  });
}
