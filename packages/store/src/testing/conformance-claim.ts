import { describe, expect, it } from 'vitest';
import { claim, classIdOf, ids, makeAgent, makeJob, submit, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeClaim(s: SuiteContext): void {
  describe('jobsClaim: order, matching and atomicity', () => {
    it('claims by priority, then queuedAt, then submission', async () => {
      const low = makeJob({ priority: 'low' });
      const normal1 = makeJob({ priority: 'normal' }, { now: T0 + 10 });
      const critical = makeJob({ priority: 'critical' }, { now: T0 + 20 });
      const normal0 = makeJob({ priority: 'normal' }, { now: T0 + 5 }); // submitted later, queued earlier
      const high = makeJob({ priority: 'high' }, { now: T0 + 30 });
      const normal2 = makeJob({ priority: 'normal' }, { now: T0 + 10 }); // same queuedAt as normal1
      await submit(s.store, low, normal1, critical, normal0, high, normal2);
      const agent = makeAgent();
      const order: string[] = [];
      for (let i = 0; i < 7; i++)
        order.push(...ids(await claim(s.store, agent, { max: 1, now: T0 + 100 })));
      expect(order).toEqual(ids([critical, high, normal0, normal1, normal2, low]));
    });

    it('orders one multi-job claim the same way, across classes', async () => {
      const a = makeJob({ priority: 'low' });
      const b = makeJob({ priority: 'high', requires: { memoryMb: 5 } });
      const c = makeJob({ priority: 'normal', queue: 'other' });
      const d = makeJob({ priority: 'high' }, { now: T0 + 1 });
      await submit(s.store, a, b, c, d);
      expect(ids(await claim(s.store, makeAgent(), { max: 10, now: T0 + 2 }))).toEqual(
        ids([b, d, c, a]),
      );
    });

    it('returns running jobs with fresh leases, their agent, and the payload text verbatim', async () => {
      const jobs = [
        makeJob({ command: ['echo', 'hé "quoted"'], env: { X: '1' } }),
        makeJob({ task: 'resize', input: { w: 10, list: [1, 'two'] } }),
      ];
      await submit(s.store, ...jobs);
      const agent = makeAgent({ name: 'box-1', capabilities: ['task:resize'] });
      const claimed = await claim(s.store, agent, { now: T0 + 7 });
      expect(ids(claimed)).toEqual(ids(jobs));
      for (const [i, c] of claimed.entries()) {
        expect(c.payloadJson).toBe(JSON.stringify(jobs[i]!.payload));
        expect(c.job).toMatchObject({
          state: 'running',
          agentId: agent.id,
          agentName: 'box-1',
          startedAt: T0 + 7,
          attempt: 1,
          gpus: [],
        });
        expect(typeof c.job.leaseId).toBe('string');
        expect(c.job.leaseId!.length).toBeGreaterThanOrEqual(16);
        expect(await s.store.jobGet({ id: c.job.id })).toEqual(c.job);
      }
      expect(claimed[0]!.job.leaseId).not.toBe(claimed[1]!.job.leaseId);
      expect((await s.store.countsByState()).running).toBe(2);
      expect((await s.store.classesWithQueued()).size).toBe(0);
    });

    it('claims nothing when nothing is queued, or max is 0', async () => {
      const agent = makeAgent();
      expect(await claim(s.store, agent)).toEqual([]);
      await submit(s.store, makeJob());
      expect(await claim(s.store, agent, { max: 0 })).toEqual([]);
      expect(ids(await claim(s.store, agent))).toHaveLength(1);
    });

    it('goes by the stored state of the agent: drained or revoked, a stale online record claims nothing', async () => {
      const agent = makeAgent();
      await s.store.agentUpsert({ agent });
      await submit(s.store, makeJob(), makeJob());
      await s.store.agentUpdate({ id: agent.id, state: 'draining' });
      expect(await claim(s.store, agent)).toEqual([]); // `agent` still says online
      await s.store.agentRevoke({ id: agent.id, now: T0 });
      expect(await claim(s.store, agent)).toEqual([]);
      const other = makeAgent();
      await s.store.agentUpsert({ agent: other });
      expect(await claim(s.store, other)).toHaveLength(2);
    });

    it('claims at most max', async () => {
      await submit(s.store, ...[1, 2, 3, 4, 5].map(() => makeJob()));
      expect(await claim(s.store, makeAgent(), { max: 3 })).toHaveLength(3);
      expect((await s.store.countsByState()).queued).toBe(2);
    });

    it('looks only at the classes it is given', async () => {
      const a = makeJob({ queue: 'a' });
      const b = makeJob({ queue: 'b' });
      await submit(s.store, a, b);
      const classes = [{ classId: await classIdOf(s.store, b), queuedBefore: null }];
      const claimed = await s.store.jobsClaim({ agent: makeAgent(), max: 10, classes, now: T0 });
      expect(ids(claimed)).toEqual([b.id]);
      expect((await s.store.jobGet({ id: a.id }))?.state).toBe('queued');
    });

    it('matches capabilities, targetAgent and pool through the classes the caller chose', async () => {
      const needsFfmpeg = makeJob({ requires: { capabilities: ['ffmpeg'] } });
      const forMac = makeJob({ targetAgent: 'mac-1' });
      const inPool = makeJob({ pool: 'farm' });
      await submit(s.store, needsFfmpeg, forMac, inPool);
      expect(await claim(s.store, makeAgent({ name: 'plain' }))).toEqual([]);
      expect(ids(await claim(s.store, makeAgent({ name: 'mac-2', pools: ['other'] })))).toEqual([]);
      expect(
        ids(await claim(s.store, makeAgent({ capabilities: ['ffmpeg', 'os:linux'] }))),
      ).toEqual([needsFfmpeg.id]);
      expect(ids(await claim(s.store, makeAgent({ name: 'mac-1' })))).toEqual([forMac.id]);
      expect(ids(await claim(s.store, makeAgent({ pools: ['x', 'farm'] })))).toEqual([inPool.id]);
    });

    it('yields only jobs queued at or before queuedBefore (tier grace), in priority order', async () => {
      const oldNormal = makeJob({ priority: 'normal' }, { now: T0 });
      const midHigh = makeJob({ priority: 'high' }, { now: T0 + 500 });
      const newCritical = makeJob({ priority: 'critical' }, { now: T0 + 5_000 });
      const newLow = makeJob({ priority: 'low' }, { now: T0 + 4_000 });
      await submit(s.store, oldNormal, midHigh, newCritical, newLow);
      const agent = makeAgent();
      const first = await claim(s.store, agent, { now: T0 + 5_000, queuedBefore: T0 + 1_000 });
      expect(ids(first)).toEqual([midHigh.id, oldNormal.id]);
      expect(await claim(s.store, agent, { now: T0 + 5_000, queuedBefore: T0 + 1_000 })).toEqual(
        [],
      );
      expect(
        ids(await claim(s.store, agent, { now: T0 + 5_000, queuedBefore: T0 + 4_000 })),
      ).toEqual([newLow.id]);
      expect(ids(await claim(s.store, agent, { now: T0 + 5_000 }))).toEqual([newCritical.id]);
    });

    it('gives each job to exactly one of two concurrent claimers', async () => {
      const jobs = Array.from({ length: 40 }, (_, i) =>
        makeJob({ priority: i % 3 === 0 ? 'high' : 'normal', queue: `q${i % 2}` }),
      );
      await submit(s.store, ...jobs);
      const a = makeAgent();
      const b = makeAgent();
      const [ca, cb] = await Promise.all([
        claim(s.store, a, { max: 25 }),
        claim(s.store, b, { max: 25 }),
      ]);
      const idsA = ids(ca);
      const idsB = ids(cb);
      expect(idsA.filter((id) => idsB.includes(id))).toEqual([]);
      expect(new Set([...idsA, ...idsB]).size).toBe(40);
      for (const c of ca) expect((await s.store.jobGet({ id: c.job.id }))?.agentId).toBe(a.id);
      for (const c of cb)
        expect((await s.store.jobGet({ id: c.job.id }))?.leaseId).toBe(c.job.leaseId);
      const leases = [...ca, ...cb].map((c) => c.job.leaseId);
      expect(new Set(leases).size).toBe(40);
    });

    it('many concurrent claimers over a deep queue never hand out a job twice', async () => {
      await submit(s.store, ...Array.from({ length: 300 }, () => makeJob()));
      const agents = Array.from({ length: 6 }, () => makeAgent());
      const rounds = await Promise.all(
        agents.flatMap((ag) => [claim(s.store, ag, { max: 30 }), claim(s.store, ag, { max: 30 })]),
      );
      const all = rounds.flatMap((r) => ids(r));
      expect(all).toHaveLength(300);
      expect(new Set(all).size).toBe(all.length);
    });
  });
}
