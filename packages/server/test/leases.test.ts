import { afterEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

let t: TestServer;
afterEach(async () => {
  await t.close();
});

describe('lease expiry', () => {
  it('an agent that stops heartbeating loses its jobs: retried as attempt+1, or AGENT_LOST when none are left', async () => {
    t = await createTestServer({ leaseTimeoutMs: 5_000 });
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const retried = await t.submit({
      task: 'x',
      maxAttempts: 2,
      backoff: { type: 'fixed', delaySec: 10 },
    });
    const lost = await t.submit({ task: 'x', maxAttempts: 1 });
    await a.sync();

    // The server waits one lease timeout after start before reaping anything.
    expect(await t.app.offload.maintenance.reapNow()).toEqual([]);
    t.clock.advance(4_000);
    expect(await t.app.offload.maintenance.reapNow()).toEqual([]);
    t.clock.advance(2_000);
    const reaped = await t.app.offload.maintenance.reapNow();
    expect(reaped.map((j) => j.id).sort()).toEqual([retried.id, lost.id].sort());

    expect((await t.request('GET', `/api/v1/jobs/${retried.id}`)).body).toMatchObject({
      state: 'scheduled',
      attempt: 2,
      error: { code: 'AGENT_LOST' },
    });
    expect((await t.request('GET', `/api/v1/jobs/${lost.id}`)).body).toMatchObject({
      state: 'failed',
      attempt: 1,
      error: { code: 'AGENT_LOST' },
    });
    expect((await t.request('GET', `/api/v1/agents/${a.id}`)).body.state).toBe('offline');

    // After the backoff the job is queued again and another agent runs attempt 2.
    t.clock.advance(10_000);
    await t.app.offload.maintenance.dueNow();
    const b = await t.registerAgent({ capabilities: ['task:x'] });
    const [claim] = (await b.sync()).jobs;
    expect(claim).toMatchObject({ id: retried.id, attempt: 2 });
  });

  it('heartbeats keep leases alive', async () => {
    t = await createTestServer({ leaseTimeoutMs: 5_000 });
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    await t.submit({ task: 'x' });
    const [claim] = (await a.sync()).jobs;
    for (let i = 0; i < 5; i++) {
      t.clock.advance(3_000);
      await t.request('POST', '/api/v1/agent/heartbeat', {
        token: a.secret,
        body: { leases: [claim!.leaseId] },
      });
      expect(await t.app.offload.maintenance.reapNow()).toEqual([]);
    }
    // The agent comes back after going offline: it is online again.
    t.clock.advance(6_000);
    await t.app.offload.maintenance.reapNow();
    expect((await t.request('GET', `/api/v1/agents/${a.id}`)).body.state).toBe('offline');
    const hb = await t.request('POST', '/api/v1/agent/heartbeat', {
      token: a.secret,
      body: { leases: [claim!.leaseId] },
    });
    expect(hb.body.stale).toEqual([claim!.leaseId]);
    expect((await t.request('GET', `/api/v1/agents/${a.id}`)).body.state).toBe('online');
  });
});

describe('due times', () => {
  it('promotes delayed jobs and expires unstarted ones when their time comes, with no per-job timer', async () => {
    t = await createTestServer();
    const delayed = await t.submit({ task: 'x', delaySec: 30 });
    const urgent = await t.submit({ task: 'x', expireAfterSec: 10 });
    const runAt = new Date(t.clock.now() + 60_000).toISOString();
    const later = await t.submit({ task: 'x', runAt });
    expect(await t.store.nextDueAt({ graceMs: 0 })).toBe(t.clock.now() + 10_000);

    t.clock.advance(10_000);
    await t.app.offload.maintenance.dueNow();
    expect((await t.request('GET', `/api/v1/jobs/${urgent.id}`)).body).toMatchObject({
      state: 'expired',
      error: { code: 'EXPIRED' },
    });
    expect((await t.request('GET', `/api/v1/jobs/${delayed.id}`)).body.state).toBe('scheduled');

    t.clock.advance(20_000);
    await t.app.offload.maintenance.dueNow();
    expect((await t.request('GET', `/api/v1/jobs/${delayed.id}`)).body.state).toBe('queued');
    expect((await t.request('GET', `/api/v1/jobs/${later.id}`)).body.state).toBe('scheduled');
    t.clock.advance(30_000);
    await t.app.offload.maintenance.dueNow();
    expect((await t.request('GET', `/api/v1/jobs/${later.id}`)).body.state).toBe('queued');
  });

  it('the server-side timeout backstop fails an attempt whose agent never reported', async () => {
    t = await createTestServer({ leaseTimeoutMs: 5_000 });
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x', timeoutSec: 60 });
    const [claimed] = (await a.sync()).jobs;
    t.clock.advance(60_000 + 5_000 + 60_000 + 1);
    // The agent keeps heartbeating with the lease, so only the backstop can end it.
    await t.request('POST', '/api/v1/agent/heartbeat', {
      token: a.secret,
      body: { leases: [claimed!.leaseId] },
    });
    await t.app.offload.maintenance.dueNow();
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body).toMatchObject({
      state: 'failed',
      error: { code: 'TIMEOUT' },
    });
  });

  it('retention deletes finished jobs older than the retention period', async () => {
    t = await createTestServer({ retentionMs: 60_000 });
    const job = await t.submit({ task: 'x' });
    await t.request('POST', `/api/v1/jobs/${job.id}/cancel`);
    const live = await t.submit({ task: 'x' });
    t.clock.advance(61_000);
    expect(await t.app.offload.maintenance.purgeNow()).toBe(1);
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).status).toBe(404);
    expect((await t.request('GET', `/api/v1/jobs/${live.id}`)).status).toBe(200);
  });
});
