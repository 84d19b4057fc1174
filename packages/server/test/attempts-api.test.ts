import { afterEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

let t: TestServer;
afterEach(async () => {
  await t.close();
});

const attemptsOf = (id: string, token?: string) =>
  t.request('GET', `/api/v1/jobs/${id}/attempts`, token === undefined ? {} : { token });

describe('GET /api/v1/jobs/:id/attempts', () => {
  it('lists each attempt with its agent: a failure, a lost lease, a hand-back, the running one', async () => {
    t = await createTestServer({ leaseTimeoutMs: 5_000 });
    const first = await t.registerAgent({ name: 'first', capabilities: ['task:x'] });
    const job = await t.submit({
      task: 'x',
      maxAttempts: 3,
      backoff: { type: 'fixed', delaySec: 1 },
    });
    expect((await attemptsOf(job.id)).body).toEqual({ attempts: [] });

    // Attempt 1 on `first` fails with exit code 2.
    const started1 = new Date(t.clock.now()).toISOString();
    const [c1] = (await first.sync()).jobs;
    const running = await attemptsOf(job.id);
    expect(running.status).toBe(200);
    expect(running.body.attempts).toEqual([
      {
        attempt: 1,
        agent: { id: first.id, name: 'first' },
        startedAt: started1,
        outcome: 'running',
      },
    ]);
    t.clock.advance(500);
    const ended1 = new Date(t.clock.now()).toISOString();
    await first.sync({
      max: 0,
      completions: [
        {
          jobId: job.id,
          leaseId: c1!.leaseId,
          outcome: 'failed',
          exitCode: 2,
          error: { code: 'EXIT_NONZERO', message: 'exit 2' },
        },
      ],
    });

    // Attempt 2 on `second`, which goes silent: the lease is reaped.
    t.clock.advance(1_000);
    await t.app.offload.maintenance.dueNow();
    const second = await t.registerAgent({ name: 'second', capabilities: ['task:x'] });
    const [c2] = (await second.sync()).jobs;
    expect(c2).toMatchObject({ id: job.id, attempt: 2 });
    t.clock.advance(6_000);
    await first.sync({ max: 0 }); // `first` stays alive
    await t.app.offload.maintenance.reapNow();

    // Attempt 3 on `first`: handed back (draining), then claimed again by `first`.
    t.clock.advance(1_000);
    await t.app.offload.maintenance.dueNow();
    const [c3] = (await first.sync()).jobs;
    await first.sync({
      max: 0,
      completions: [{ jobId: job.id, leaseId: c3!.leaseId, outcome: 'handback' }],
    });
    await first.sync();

    const res = await attemptsOf(job.id);
    expect(res.status).toBe(200);
    const list = res.body.attempts as Array<Record<string, unknown>>;
    expect(list.map((a) => [a.attempt, (a.agent as { name: string }).name, a.outcome])).toEqual([
      [1, 'first', 'failed'],
      [2, 'second', 'agent-lost'],
      [3, 'first', 'handed-back'],
      [3, 'first', 'running'],
    ]);
    expect(list[0]).toEqual({
      attempt: 1,
      agent: { id: first.id, name: 'first' },
      startedAt: started1,
      endedAt: ended1,
      outcome: 'failed',
      exitCode: 2,
      error: { code: 'EXIT_NONZERO', message: 'exit 2' },
    });
    expect(list[1]).toMatchObject({ error: { code: 'AGENT_LOST' } });
    expect(list[3]).not.toHaveProperty('endedAt');
    // The lease id is the agent's fencing token: it stays out of the API.
    expect(JSON.stringify(list)).not.toContain(c1!.leaseId);
  });

  it('ends the list with the outcome of a canceled job', async () => {
    t = await createTestServer();
    const a = await t.registerAgent({ name: 'runner', capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    const [c] = (await a.sync()).jobs;
    await t.request('POST', `/api/v1/jobs/${job.id}/cancel`);
    await a.sync({
      max: 0,
      completions: [
        {
          jobId: job.id,
          leaseId: c!.leaseId,
          outcome: 'failed',
          signal: 'SIGTERM',
          error: { code: 'CANCELED', message: 'canceled' },
        },
      ],
    });
    const list = (await attemptsOf(job.id)).body.attempts;
    expect(list).toEqual([expect.objectContaining({ outcome: 'canceled', signal: 'SIGTERM' })]);
  });

  it('answers 404 JOB_NOT_FOUND for an unknown job and 400 for a malformed id', async () => {
    t = await createTestServer();
    const missing = await attemptsOf('no-such-job');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect(missing.body.error.message).toContain('no-such-job');
    const bad = await attemptsOf('x'.repeat(65));
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('needs the read scope', async () => {
    t = await createTestServer();
    const job = await t.submit({ task: 'x' });
    const submitOnly = await t.createKey(['submit']);
    expect((await attemptsOf(job.id, submitOnly)).status).toBe(403);
    const reader = await t.createKey(['read']);
    expect((await attemptsOf(job.id, reader)).status).toBe(200);
  });
});
