import { describe, expect, it } from 'vitest';
import { ids, makeAgent, report, startJob, T0 } from './fixtures.js';
import type { SuiteContext } from './suite-context.js';

export function describeAgents(s: SuiteContext): void {
  describe('agents', () => {
    it('creates, reads and updates an agent, keeping createdAt', async () => {
      const agent = makeAgent({
        name: 'box',
        capabilities: ['a'],
        hostname: 'box.local',
        resources: { cpu: 2, memoryMb: 10, gpus: [{ index: 0, model: 'm', memoryMb: 5 }] },
      });
      expect(await s.store.agentUpsert({ agent })).toEqual(agent);
      expect(await s.store.agentGet({ id: agent.id })).toEqual(agent);
      expect(await s.store.agentGetByName({ name: 'box' })).toEqual(agent);
      expect(await s.store.agentGet({ id: 'nobody' })).toBeNull();
      expect(await s.store.agentGetByName({ name: 'nobody' })).toBeNull();
      const again = {
        ...agent,
        capabilities: ['a', 'b'],
        maxJobs: 3,
        lastSeenAt: T0 + 9,
        createdAt: T0 + 9,
      };
      expect(await s.store.agentUpsert({ agent: again })).toEqual({ ...again, createdAt: T0 });
    });

    it('refuses a second live agent with the same name until the first is revoked', async () => {
      const first = makeAgent({ name: 'dup' });
      await s.store.agentUpsert({ agent: first });
      const second = makeAgent({ name: 'dup' });
      const err = await s.store.agentUpsert({ agent: second }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'AGENT_NAME_TAKEN' });
      expect((err as Error).message).toContain('dup');
      expect(await s.store.agentGet({ id: second.id })).toBeNull();
      await s.store.agentRevoke({ id: first.id, now: T0 + 1 });
      expect(await s.store.agentUpsert({ agent: second })).toEqual(second);
      expect((await s.store.agentGetByName({ name: 'dup' }))?.id).toBe(second.id);
      expect((await s.store.agentsList({})).map((a) => a.id)).toEqual([second.id]);
      expect((await s.store.agentsList({ includeRevoked: true })).map((a) => a.id).sort()).toEqual(
        [first.id, second.id].sort(),
      );
    });

    it('updates state and lastSeenAt', async () => {
      const agent = makeAgent();
      await s.store.agentUpsert({ agent });
      expect(await s.store.agentUpdate({ id: agent.id, state: 'draining' })).toEqual({
        ...agent,
        state: 'draining',
      });
      expect(await s.store.agentUpdate({ id: agent.id, lastSeenAt: T0 + 5 })).toEqual({
        ...agent,
        state: 'draining',
        lastSeenAt: T0 + 5,
      });
      expect(await s.store.agentUpdate({ id: 'nobody', lastSeenAt: T0 })).toBeNull();
    });

    it('reaps agents not seen since the cutoff and loses their running attempts', async () => {
      const gone = makeAgent({ lastSeenAt: T0 });
      const draining = makeAgent({ state: 'draining', lastSeenAt: T0 + 1 });
      const alive = makeAgent({ lastSeenAt: T0 + 10_000 });
      const offline = makeAgent({ state: 'offline', lastSeenAt: T0 });
      for (const agent of [gone, draining, alive, offline]) await s.store.agentUpsert({ agent });
      const retried = await startJob(s.store, gone, {
        maxAttempts: 2,
        backoff: { type: 'fixed', delaySec: 5 },
      });
      const lost = await startJob(s.store, gone, { queue: 'b' });
      const canceling = await startJob(s.store, gone, { queue: 'c' });
      await s.store.jobCancel({ id: canceling.id, now: T0 + 1 });
      const safe = await startJob(s.store, alive, { queue: 'd' });

      const r = await s.store.agentsReap({ seenBefore: T0 + 5_000, now: T0 + 6_000 });
      expect(r.agents.map((a) => [a.id, a.state]).sort()).toEqual(
        [
          [gone.id, 'offline'],
          [draining.id, 'offline'],
        ].sort(),
      );
      const byId = new Map(r.jobs.map((j) => [j.id, j]));
      expect(byId.size).toBe(3);
      expect(byId.get(retried.id)).toMatchObject({
        state: 'scheduled',
        attempt: 2,
        runAt: T0 + 11_000,
        error: { code: 'AGENT_LOST' },
        leaseId: null,
      });
      expect(byId.get(lost.id)).toMatchObject({
        state: 'failed',
        error: { code: 'AGENT_LOST' },
        finishedAt: T0 + 6_000,
      });
      expect(byId.get(canceling.id)).toMatchObject({ state: 'canceled' });
      expect((await s.store.jobGet({ id: safe.id }))?.state).toBe('running');
      expect((await s.store.agentGet({ id: gone.id }))?.state).toBe('offline');
      expect((await s.store.agentGet({ id: alive.id }))?.state).toBe('online');
      expect(await s.store.jobsRunningOnAgent({ agentId: gone.id })).toEqual([]);
      // The lost agent's late report is stale; a second reap finds nothing.
      expect((await report(s.store, retried, { outcome: 'succeeded' }, T0 + 7_000)).ok).toBe(false);
      expect(await s.store.agentsReap({ seenBefore: T0 + 5_000, now: T0 + 8_000 })).toEqual({
        agents: [],
        jobs: [],
      });
      const counts = await s.store.countsByState();
      expect([counts.running, counts.scheduled, counts.failed, counts.canceled]).toEqual([
        1, 1, 1, 1,
      ]);
    });

    it('revokes an agent and loses its running attempts at once', async () => {
      const agent = makeAgent();
      await s.store.agentUpsert({ agent });
      const job = await startJob(s.store, agent, { maxAttempts: 3 });
      const r = await s.store.agentRevoke({ id: agent.id, now: T0 + 1 });
      expect(r.agent).toEqual({ ...agent, state: 'revoked' });
      expect(r.jobs.map((j) => [j.id, j.state, j.attempt])).toEqual([[job.id, 'scheduled', 2]]);
      expect(await s.store.agentGet({ id: agent.id })).toEqual({ ...agent, state: 'revoked' });
      await expect(s.store.agentRevoke({ id: 'nobody', now: T0 })).rejects.toMatchObject({
        code: 'AGENT_NOT_FOUND',
      });
    });

    it('lists the running attempts of an agent', async () => {
      const a = makeAgent();
      const b = makeAgent();
      const j1 = await startJob(s.store, a);
      const j2 = await startJob(s.store, a, { queue: 'x' });
      await startJob(s.store, b, { queue: 'y' });
      expect(ids(await s.store.jobsRunningOnAgent({ agentId: a.id })).sort()).toEqual(
        [j1.id, j2.id].sort(),
      );
      await report(s.store, j1, { outcome: 'succeeded' }, T0 + 1);
      expect(ids(await s.store.jobsRunningOnAgent({ agentId: a.id }))).toEqual([j2.id]);
    });
  });
}
