import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer } from './test-server.js';

let t: TestServer;
beforeEach(async () => {
  t = await createTestServer();
});
afterEach(async () => {
  await t.close();
});

describe('register', () => {
  it('creates the agent with a join token and returns its secret once', async () => {
    const join = await t.joinToken();
    const body = {
      name: 'gpu-box',
      capabilities: ['ffmpeg', 'gpu'],
      resources: {
        cpu: 8,
        memoryMb: 32_000,
        gpus: [{ index: 0, model: 'A100', memoryMb: 40_000 }],
      },
      maxJobs: 4,
      tier: 2,
      pools: ['render'],
    };
    const res = await t.request('POST', '/api/v1/agent/register', { token: join, body });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^offs_/);
    expect(res.body.agent).toMatchObject({
      name: 'gpu-box',
      state: 'online',
      tier: 2,
      pools: ['render'],
      capabilities: ['ffmpeg', 'gpu'],
      free: { cpu: 8, gpus: [0] },
      runningJobs: [],
    });
    expect(res.body.leaseTimeoutMs).toBe(5_000);

    const listed = await t.request('GET', '/api/v1/agents');
    expect(JSON.stringify(listed.body)).not.toContain(res.body.secret);

    const again = await t.request('POST', '/api/v1/agent/register', {
      token: res.body.secret,
      body: { ...body, maxJobs: 6 },
    });
    expect(again.status).toBe(200);
    expect(again.body.secret).toBeUndefined();
    expect(again.body.agent).toMatchObject({ id: res.body.agent.id, maxJobs: 6 });
  });

  it('refuses a second agent with a taken name: 409 AGENT_NAME_TAKEN', async () => {
    await t.registerAgent({ name: 'dup' });
    const join = await t.joinToken();
    const res = await t.request('POST', '/api/v1/agent/register', {
      token: join,
      body: {
        name: 'dup',
        capabilities: [],
        resources: { cpu: 1, memoryMb: 1, gpus: [] },
        maxJobs: 1,
      },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('AGENT_NAME_TAKEN');
    expect(res.body.error.message).toContain('--name');
  });

  it('a single-use join token registers one agent only', async () => {
    const join = await t.joinToken({ singleUse: true });
    const body = (name: string) => ({
      name,
      capabilities: [],
      resources: { cpu: 1, memoryMb: 1, gpus: [] },
      maxJobs: 1,
    });
    expect(
      (await t.request('POST', '/api/v1/agent/register', { token: join, body: body('one') }))
        .status,
    ).toBe(201);
    const second = await t.request('POST', '/api/v1/agent/register', {
      token: join,
      body: body('two'),
    });
    expect(second.status).toBe(401);
  });

  it('an expired join token is refused with 401', async () => {
    const join = await t.joinToken({ ttlSec: 10 });
    t.clock.advance(11_000);
    const res = await t.request('POST', '/api/v1/agent/register', {
      token: join,
      body: {
        name: 'late',
        capabilities: [],
        resources: { cpu: 1, memoryMb: 1, gpus: [] },
        maxJobs: 1,
      },
    });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain('expired');
  });
});

describe('sync', () => {
  it('hands out several jobs at once, slim, with the payload as submitted', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:thumb'] });
    await t.request('POST', '/api/v1/jobs/batch', {
      body: { jobs: [1, 2, 3].map((n) => ({ task: 'thumb', input: { n }, env: { A: 'b' } })) },
    });
    const res = await agent.sync({ max: 10 });
    expect(res.jobs).toHaveLength(3);
    expect(res.jobs.map((j) => j.payload)).toEqual(
      [1, 2, 3].map((n) => ({ task: 'thumb', input: { n }, env: { A: 'b' } })),
    );
    expect(res.jobs[0]).toMatchObject({
      attempt: 1,
      queue: 'default',
      name: 'thumb',
      cpu: 0,
      gpus: [],
      timeoutSec: 18_000,
    });
    expect(new Set(res.jobs.map((j) => j.leaseId)).size).toBe(3);
    const running = await t.request('GET', '/api/v1/jobs', { query: { state: 'running' } });
    expect(running.body.jobs).toHaveLength(3);
  });

  it('a job name that needs escaping reaches the agent as submitted', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    const name = 'say "hi" \\ back/slash, ünïcode \u2028';
    const job = await t.submit({ task: 'x', name });
    const res = await agent.sync({ max: 1 });
    expect(res.jobs).toHaveLength(1);
    expect(res.jobs[0]).toMatchObject({ id: job.id, name, queue: 'default' });
  });

  it('a parked long poll is released by a submit within milliseconds', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    const started = performance.now();
    const pending = agent.sync({ max: 5, waitMs: 4_000 });
    await new Promise((r) => setTimeout(r, 50));
    expect(t.app.offload.dispatcher.parkedCount).toBe(1);
    await t.submit({ task: 'x' });
    const res = await pending;
    expect(res.jobs).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a long poll whose agent hung up stops waiting and claims nothing for it', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const hangUp = new AbortController();
    const pending = fetch(`${address}/api/v1/agent/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ max: 5, waitMs: 10_000 }),
      signal: hangUp.signal,
    }).catch(() => undefined);
    for (let i = 0; t.app.offload.dispatcher.parkedCount === 0 && i < 100; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(t.app.offload.dispatcher.parkedCount).toBe(1);
    hangUp.abort();
    await pending;
    for (let i = 0; t.app.offload.dispatcher.parkedCount > 0 && i < 100; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(t.app.offload.dispatcher.parkedCount).toBe(0);
    const job = await t.submit({ task: 'x' });
    await new Promise((r) => setTimeout(r, 50));
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body.state).toBe('queued');
  });

  it('a parked long poll is not released by work the agent cannot run', async () => {
    const agent = await t.registerAgent({ capabilities: [] });
    const pending = agent.sync({ max: 5, waitMs: 300 });
    await new Promise((r) => setTimeout(r, 30));
    await t.submit({ task: 'x' });
    expect((await pending).jobs).toHaveLength(0);
  });

  it("a draining agent's long poll parks, gets nothing, and is released by a resume", async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    expect((await t.request('POST', `/api/v1/agents/${agent.id}/drain`)).status).toBe(200);
    await t.submit({ task: 'x' });
    const pending = agent.sync({ max: 5, waitMs: 4_000 });
    await new Promise((r) => setTimeout(r, 50));
    expect(t.app.offload.dispatcher.parkedCount).toBe(1);
    expect((await t.request('POST', `/api/v1/agents/${agent.id}/resume`)).status).toBe(200);
    const res = await pending;
    expect(res).toMatchObject({ jobs: [], drain: false });
    expect((await agent.sync({ max: 5, waitMs: 0 })).jobs).toHaveLength(1);
  });

  it("the end of an agent's own job releases its parked claim to take work that now fits", async () => {
    const agent = await t.registerAgent({
      capabilities: ['task:x'],
      resources: { cpu: 1, memoryMb: 1024, gpus: [] },
      maxJobs: 4,
    });
    const first = await t.submit({ task: 'x', requires: { cpu: 1 } });
    const second = await t.submit({ task: 'x', requires: { cpu: 1 } });
    const [claimed] = (await agent.sync({ max: 4, waitMs: 0 })).jobs;
    expect(claimed?.id).toBe(first.id);
    // The CPU is taken: this claim parks although the second job is queued.
    const pending = agent.sync({ max: 3, waitMs: 4_000 });
    await new Promise((r) => setTimeout(r, 50));
    expect(t.app.offload.dispatcher.parkedCount).toBe(1);
    await agent.sync({
      max: 0,
      completions: [{ jobId: first.id, leaseId: claimed!.leaseId, outcome: 'succeeded' }],
    });
    expect((await pending).jobs.map((j) => j.id)).toEqual([second.id]);
  });

  it('a heartbeat that lacks a lease claimed over a lease timeout ago hands that job back', async () => {
    const agent = await t.registerAgent({ capabilities: ['task:x'] });
    const lost = await t.submit({ task: 'x' });
    const kept = await t.submit({ task: 'x' });
    const claimed = (await agent.sync({ max: 2, waitMs: 0 })).jobs;
    const leaseOf = (id: string) => claimed.find((j) => j.id === id)!.leaseId;
    const heartbeat = (leases: string[]) =>
      t.request('POST', '/api/v1/agent/heartbeat', { token: agent.secret, body: { leases } });
    // Just claimed: the answer may still be on its way, so nothing is handed back yet.
    expect((await heartbeat([leaseOf(kept.id)])).status).toBe(200);
    expect((await t.request('GET', `/api/v1/jobs/${lost.id}`)).body.state).toBe('running');
    t.clock.advance(5_001); // the test server's lease timeout is 5 s
    expect((await heartbeat([leaseOf(kept.id)])).body.stale).toEqual([]);
    expect((await t.request('GET', `/api/v1/jobs/${lost.id}`)).body).toMatchObject({
      state: 'queued',
      attempt: 1,
    });
    expect((await t.request('GET', `/api/v1/jobs/${kept.id}`)).body.state).toBe('running');
  });

  it('fences completions by lease: a stale one is refused and changes nothing', async () => {
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const b = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x', maxAttempts: 3 });
    const [claim] = (await a.sync()).jobs;

    // Agent b cannot report on a's lease.
    const foreign = await b.sync({
      max: 0,
      completions: [{ jobId: job.id, leaseId: claim!.leaseId, outcome: 'succeeded' }],
    });
    expect(foreign.acks).toEqual([{ jobId: job.id, ok: false, code: 'LEASE_STALE' }]);

    // a's attempt fails, so the lease is gone; a late success is refused, 409 on the single route.
    await a.sync({
      max: 0,
      completions: [
        {
          jobId: job.id,
          leaseId: claim!.leaseId,
          outcome: 'failed',
          exitCode: 2,
          error: { code: 'EXIT_NONZERO', message: 'exit 2' },
        },
      ],
    });
    const after = await t.request('GET', `/api/v1/jobs/${job.id}`);
    expect(after.body).toMatchObject({ state: 'scheduled', attempt: 2, exitCode: 2 });
    const late = await t.request('POST', `/api/v1/agent/jobs/${job.id}/complete`, {
      token: a.secret,
      body: { leaseId: claim!.leaseId, outcome: 'succeeded' },
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('LEASE_STALE');
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body).toEqual(after.body);
  });

  it('completes one attempt through the single route', async () => {
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    const [claim] = (await a.sync()).jobs;
    const res = await t.request('POST', `/api/v1/agent/jobs/${job.id}/complete`, {
      token: a.secret,
      body: {
        leaseId: claim!.leaseId,
        outcome: 'succeeded',
        result: [1, 2],
        usage: { wallSec: 1.5, cpuSec: 0.2, maxRssMb: 12 },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      state: 'succeeded',
      result: [1, 2],
      usage: { wallSec: 1.5 },
      agent: { id: a.id, name: a.name },
    });
  });

  it('a handback requeues the job without burning the attempt', async () => {
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    const [claim] = (await a.sync()).jobs;
    await a.sync({
      max: 0,
      completions: [{ jobId: job.id, leaseId: claim!.leaseId, outcome: 'handback' }],
    });
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body).toMatchObject({
      state: 'queued',
      attempt: 1,
    });
  });
});

describe('heartbeat', () => {
  it('names stale and canceled leases and the drain flag', async () => {
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const j1 = await t.submit({ task: 'x' });
    await t.submit({ task: 'x' });
    const claims = (await a.sync()).jobs;
    await t.request('POST', `/api/v1/jobs/${j1.id}/cancel`);
    await t.request('POST', `/api/v1/agents/${a.id}/drain`);
    const res = await t.request('POST', '/api/v1/agent/heartbeat', {
      token: a.secret,
      body: { leases: [...claims.map((c) => c.leaseId), 'lease_gone'] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      stale: ['lease_gone'],
      cancel: [claims.find((c) => c.id === j1.id)!.leaseId],
      drain: true,
      leaseTimeoutMs: 5_000,
    });
    expect((await t.request('GET', `/api/v1/agents/${a.id}`)).body.state).toBe('draining');
  });
});

describe('logs and progress', () => {
  it('stores output in order, serves it as text, and refuses stale leases', async () => {
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    const [claim] = (await a.sync()).jobs;
    const res = await t.request('POST', '/api/v1/agent/logs', {
      token: a.secret,
      body: {
        logs: [
          { jobId: job.id, leaseId: claim!.leaseId, stream: 'stdout', data: 'one\n' },
          { jobId: job.id, leaseId: claim!.leaseId, stream: 'stderr', data: 'two\n' },
          { jobId: job.id, leaseId: 'lease_old', stream: 'stdout', data: 'ghost\n' },
        ],
        progress: [{ jobId: job.id, leaseId: claim!.leaseId, percent: 40, stage: 'encoding' }],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.stale).toEqual(['lease_old']);
    const text = await t.request('GET', `/api/v1/jobs/${job.id}/logs`);
    expect(text.text).toBe('one\ntwo\n');
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body.progress).toEqual({
      percent: 40,
      stage: 'encoding',
    });
  });
});

describe('agents admin', () => {
  it('drain, resume and revoke; a revoked agent is refused and its job retried', async () => {
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x', maxAttempts: 2 });
    await a.sync();
    expect((await t.request('POST', `/api/v1/agents/${a.name}/drain`)).body.state).toBe('draining');
    expect((await a.sync({ max: 5 })).drain).toBe(true);
    expect((await t.request('POST', `/api/v1/agents/${a.id}/resume`)).body.state).toBe('online');
    const revoked = await t.request('DELETE', `/api/v1/agents/${a.id}`);
    expect(revoked.body.state).toBe('revoked');
    expect((await t.request('GET', `/api/v1/jobs/${job.id}`)).body).toMatchObject({
      state: 'scheduled',
      attempt: 2,
      error: { code: 'AGENT_LOST' },
    });
    const refused = await t.request('POST', '/api/v1/agent/sync', {
      token: a.secret,
      body: { max: 1, waitMs: 0 },
    });
    expect(refused.status).toBe(401);
    expect((await t.request('GET', '/api/v1/agents/nope')).status).toBe(404);
  });
});

describe('log follow', () => {
  it('streams output live as SSE, in order, then `end` with the finished job', async () => {
    const a = await t.registerAgent({ capabilities: ['task:x'] });
    const job = await t.submit({ task: 'x' });
    const [claim] = (await a.sync()).jobs;
    const send = (stream: 'stdout' | 'stderr', data: string) =>
      t.request('POST', '/api/v1/agent/logs', {
        token: a.secret,
        body: { logs: [{ jobId: job.id, leaseId: claim!.leaseId, stream, data }] },
      });
    await send('stdout', 'before follow\n');

    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${address}/api/v1/jobs/${job.id}/logs?follow=1`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const events: Array<{ event: string; data: string }> = [];
    let buffer = '';
    const readUntil = async (done: () => boolean) => {
      while (!done()) {
        const { value, done: eof } = await reader.read();
        if (eof) break;
        buffer += new TextDecoder().decode(value);
        let sep;
        while ((sep = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) events.push({ event, data });
        }
      }
    };
    await readUntil(() => events.length >= 1);
    await send('stderr', 'live 1\n');
    await send('stdout', 'live 2\n');
    await readUntil(() => events.length >= 3);
    await a.sync({
      max: 0,
      completions: [{ jobId: job.id, leaseId: claim!.leaseId, outcome: 'succeeded' }],
    });
    await readUntil(() => events.some((e) => e.event === 'end'));
    expect(
      events.map((e) => [
        e.event,
        e.event === 'end' ? JSON.parse(e.data).state : JSON.parse(e.data),
      ]),
    ).toEqual([
      ['stdout', 'before follow\n'],
      ['stderr', 'live 1\n'],
      ['stdout', 'live 2\n'],
      ['end', 'succeeded'],
    ]);
  });
});
