import { describeWithPostgres, postgresTestEnv } from '@offload/store/testing';
import { afterEach, expect, it, vi } from 'vitest';
import { openServerGroup, type GroupServer, type ServerGroup } from './server-group.js';

const env = await postgresTestEnv();

/**
 * Periodic maintenance (lease reaping, due-time sweeps, retention) runs on the one server
 * the store elects; when it goes, another takes over. Each server has its own hand-moved
 * clock, which lets a test tell who ran a sweep: only a server whose clock says a lease
 * expired would reap it.
 */
describeWithPostgres(env, 'maintenance on one elected server', () => {
  let group: ServerGroup | undefined;
  afterEach(async () => {
    await group?.close();
    group = undefined;
  });

  const leaderOf = async (servers: GroupServer[]): Promise<GroupServer> => {
    await vi.waitFor(
      () => expect(servers.filter((s) => s.app.offload.maintenance.isLeader)).toHaveLength(1),
      { timeout: 15_000, interval: 50 },
    );
    return servers.find((s) => s.app.offload.maintenance.isLeader)!;
  };

  /** Counts each server's lease-reaping sweeps (the real store call, counted on the way). */
  const countReaps = (servers: GroupServer[]): Map<GroupServer, number> => {
    const calls = new Map(servers.map((s) => [s, 0]));
    for (const s of servers) {
      const reap = s.store.agentsReap.bind(s.store);
      s.store.agentsReap = (p) => {
        calls.set(s, calls.get(s)! + 1);
        return reap(p);
      };
    }
    return calls;
  };

  it('one of three leads; when it closes, another takes over and reaps an expired lease', async () => {
    group = await openServerGroup(env, 3, {
      startMaintenance: true,
      // The reaper runs every quarter lease: 250 ms.
      config: { leaseTimeoutMs: 1_000 },
    });
    const { servers } = group;
    const leader = await leaderOf(servers);
    const others = servers.filter((s) => s !== leader);
    // All clocks a minute on: past the reaper's grace after start (one lease timeout),
    // which a server that just started would otherwise still be in.
    const now = Date.now() + 60_000;
    for (const s of servers) s.clock.set(now);
    const reaps = countReaps(servers);

    // An agent on another server takes a job, then falls silent.
    const agent = await others[0]!.registerAgent({ capabilities: ['task:x'] });
    const job = await others[0]!.submit({ task: 'x' });
    expect((await agent.sync()).jobs.map((j) => j.id)).toEqual([job.id]);

    // For every server but the leader the lease has long expired: had they swept, they
    // would have reaped it. The leader sweeps; by its clock the lease holds.
    for (const s of others) s.clock.set(now + 600_000);
    await vi.waitFor(() => expect(reaps.get(leader)).toBeGreaterThanOrEqual(3), {
      timeout: 15_000,
    });
    expect(others.map((s) => reaps.get(s))).toEqual([0, 0]);
    expect((await leader.store.jobGet({ id: job.id }))?.state).toBe('running');

    await leader.close();
    const next = await leaderOf(others);
    await vi.waitFor(
      async () => {
        const j = await next.store.jobGet({ id: job.id });
        expect(j?.state).not.toBe('running');
      },
      { timeout: 15_000, interval: 100 },
    );
    expect((await next.store.agentGet({ id: agent.id }))?.state).toBe('offline');
    expect(reaps.get(others.find((s) => s !== next)!)).toBe(0);
  }, 60_000);

  it("the leader promotes a delayed job submitted to another server at its due time, not at its timer's backstop", async () => {
    group = await openServerGroup(env, 2, { startMaintenance: true });
    const leader = await leaderOf(group.servers);
    const other = group.servers.find((s) => s !== leader)!;
    // Nothing was due when the leader swept: its timer sleeps its longest (a minute).
    await vi.waitFor(() => expect(leader.app.offload.maintenance.isSweeping).toBe(false), {
      timeout: 10_000,
    });
    // The leader's clock is past the job's due time, so the sweep it is woken for finds it due.
    leader.clock.set(other.clock.now() + 5_000);
    const job = await other.submit({ task: 'x', delaySec: 1 });
    expect(job.state).toBe('scheduled');
    await vi.waitFor(
      async () => expect((await other.store.jobGet({ id: job.id }))?.state).toBe('queued'),
      { timeout: 30_000, interval: 100 },
    );
  }, 60_000);
});
