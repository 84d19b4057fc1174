import { describeWithPostgres, postgresTestEnv, queryTestDatabase } from '@offload/store/testing';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { openServerGroup, openSse, type GroupServer, type ServerGroup } from './server-group.js';
import type { TestAgent } from './test-server.js';

const env = await postgresTestEnv();

/** Long enough that a long poll or wait that returns did not run out: it was woken. */
const LONG_WAIT_MS = 20_000;
/** Well before LONG_WAIT_MS: what a wake-up (not a timeout) must beat, with room for a loaded machine. */
const WOKEN_WITHIN_MS = 15_000;
/** How long a step may take to show on a loaded machine (polled every 20 ms). */
const SETTLE = { timeout: 10_000, interval: 20 };

/**
 * Two servers on one PostgreSQL schema act as one: what is committed through A wakes and
 * informs what waits on B (the change feed, services/change-feed.ts).
 */
describeWithPostgres(env, 'two servers on one PostgreSQL schema', () => {
  let group: ServerGroup;
  let a: GroupServer;
  let b: GroupServer;

  beforeEach(async () => {
    // Long polls may last LONG_WAIT_MS (they are capped at half the lease timeout).
    group = await openServerGroup(env, 2, { config: { leaseTimeoutMs: 60_000 } });
    [a, b] = group.servers as [GroupServer, GroupServer];
  });
  afterEach(async () => {
    await group.close();
  });

  /**
   * Starts a sync on `server` and returns once it is parked (nothing to claim), with the
   * sync's outcome to await: its body and how long it took.
   */
  const parkedSync = async (server: GroupServer, agent: TestAgent) => {
    const parkedBefore = server.app.offload.dispatcher.parkedCount;
    const started = performance.now();
    const sync = agent
      .sync({ waitMs: LONG_WAIT_MS })
      .then((body) => ({ body, ms: performance.now() - started }));
    await vi.waitFor(
      () => expect(server.app.offload.dispatcher.parkedCount).toBeGreaterThan(parkedBefore),
      SETTLE,
    );
    // Wrapped: an async function returning the promise itself would wait for it.
    return { done: sync };
  };

  it('a job submitted to A starts at once on an agent long-polling B', async () => {
    const agent = await b.registerAgent({ capabilities: ['task:x'] });
    const sync = await parkedSync(b, agent);
    const job = await a.submit({ task: 'x' });
    const { body, ms } = await sync.done;
    expect(body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    expect(ms).toBeLessThan(WOKEN_WITHIN_MS);
  });

  it('a job in a requirement class created on A (unknown to B) still wakes B', async () => {
    const agent = await b.registerAgent({
      capabilities: ['task:y'],
      resources: { cpu: 8, memoryMb: 16_384, gpus: [] },
    });
    const sync = await parkedSync(b, agent);
    // A class B has never seen: cpu 3 is a new requirement shape.
    const job = await a.submit({ task: 'y', requires: { cpu: 3 } });
    const { body, ms } = await sync.done;
    expect(body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    expect(ms).toBeLessThan(WOKEN_WITHIN_MS);
  });

  it('a class created on A while nothing waits on B is claimed through B later', async () => {
    const agent = await b.registerAgent({
      capabilities: ['task:z'],
      resources: { cpu: 8, memoryMb: 16_384, gpus: [] },
    });
    const job = await a.submit({ task: 'z', requires: { cpu: 5 } }); // a class B has not seen
    // B hears of it on its feed with no claim parked; a sync that waits for nothing finds it.
    await vi.waitFor(async () => {
      const { jobs } = await agent.sync({ waitMs: 0 });
      expect(jobs.map((j) => j.id)).toEqual([job.id]);
    }, SETTLE);
  });

  it('?wait= on B is released by a completion on A, and /wait on A by one on B', async () => {
    const agentOnA = await a.registerAgent({ capabilities: ['task:x'] });
    const parked = await parkedSync(a, agentOnA);
    // Submitted to B and held there until terminal; the agent runs it through A.
    const started = performance.now();
    const held = b.request('POST', `/api/v1/jobs?wait=${LONG_WAIT_MS / 1000}`, {
      body: { task: 'x' },
    });
    const { body } = await parked.done;
    const claim = body.jobs[0]!;
    expect(claim).toBeDefined();
    await agentOnA.sync({
      completions: [{ jobId: claim.id, leaseId: claim.leaseId, outcome: 'succeeded' }],
    });
    const res = await held;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: claim.id, state: 'succeeded' });
    expect(performance.now() - started).toBeLessThan(WOKEN_WITHIN_MS);

    // The other way round: /wait on A, the run reported to B.
    const agentOnB = await b.registerAgent({ capabilities: ['task:z'] });
    const job = await a.submit({ task: 'z' });
    const waited = a.request(
      'GET',
      `/api/v1/jobs/${job.id}/wait?timeoutSec=${LONG_WAIT_MS / 1000}`,
    );
    const [run] = (await agentOnB.sync()).jobs;
    expect(run?.id).toBe(job.id);
    await agentOnB.sync({
      completions: [{ jobId: job.id, leaseId: run!.leaseId, outcome: 'failed', exitCode: 3 }],
    });
    const done = await waited;
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: job.id, state: 'failed' });
  });

  it("B's event stream sees a job submitted, started, reporting progress and finished through A", async () => {
    const stream = await openSse(`${await b.listen()}/api/v1/events`, b.token);
    try {
      const agent = await a.registerAgent({ capabilities: ['task:x'] });
      // Each step waits for B to show the last: a state already superseded when B reads
      // the job is not published (B publishes jobs as they are, never a stale copy).
      const job = await a.submit({ task: 'x', name: 'seen-elsewhere' });
      const mine = (type: string) => (e: { event: string; data: string }) =>
        e.event === type && (JSON.parse(e.data) as { id?: string }).id === job.id;
      await stream.next(mine('job.created'));
      const [claim] = (await agent.sync()).jobs;
      await stream.next(mine('job.started'));
      const reported = await a.request('POST', '/api/v1/agent/logs', {
        token: agent.secret,
        body: { progress: [{ jobId: job.id, leaseId: claim!.leaseId, percent: 40 }] },
      });
      expect(reported.status).toBe(200);
      await stream.next(mine('job.progress'));
      await agent.sync({
        completions: [{ jobId: job.id, leaseId: claim!.leaseId, outcome: 'succeeded' }],
      });
      await stream.next(mine('job.succeeded'));
      const types = stream.events
        .filter((e) => e.event.startsWith('job.'))
        .filter((e) => (JSON.parse(e.data) as { id: string }).id === job.id)
        .map((e) => e.event);
      expect(types).toEqual(['job.created', 'job.started', 'job.progress', 'job.succeeded']);
      const created = stream.events.find(mine('job.created'))!;
      expect(JSON.parse(created.data)).toMatchObject({ name: 'seen-elsewhere', state: 'queued' });
      // Agent events too: the registration on A.
      expect(
        stream.events.some(
          (e) =>
            e.event === 'agent.online' && (JSON.parse(e.data) as { id: string }).id === agent.id,
        ),
      ).toBe(true);
    } finally {
      stream.close();
    }
  });

  it('/logs?follow=1 on B streams the lines an agent ships to A, then ends', async () => {
    const agent = await a.registerAgent({ capabilities: ['task:x'] });
    const job = await a.submit({ task: 'x' });
    const [claim] = (await agent.sync()).jobs;
    const ship = (data: string) =>
      a.request('POST', '/api/v1/agent/logs', {
        token: agent.secret,
        body: { logs: [{ jobId: job.id, leaseId: claim!.leaseId, stream: 'stdout', data }] },
      });
    await ship('before\n');
    const follow = await openSse(
      `${await b.listen()}/api/v1/jobs/${job.id}/logs?follow=1`,
      b.token,
    );
    try {
      await follow.next((e) => e.event === 'stdout' && JSON.parse(e.data) === 'before\n');
      await ship('one\n');
      await follow.next((e) => JSON.parse(e.data) === 'one\n');
      await ship('two\n');
      await follow.next((e) => JSON.parse(e.data) === 'two\n');
      await agent.sync({
        completions: [{ jobId: job.id, leaseId: claim!.leaseId, outcome: 'succeeded' }],
      });
      const end = await follow.next((e) => e.event === 'end');
      expect(JSON.parse(end.data)).toMatchObject({ id: job.id, state: 'succeeded' });
      expect(
        follow.events.filter((e) => e.event === 'stdout').map((e) => JSON.parse(e.data)),
      ).toEqual(['before\n', 'one\n', 'two\n']);
    } finally {
      follow.close();
    }
  });

  it("a pause on A holds B's agents; the resume on A wakes the one parked on B", async () => {
    expect((await a.request('POST', '/api/v1/queues/batch/pause')).status).toBe(200);
    await vi.waitFor(() => expect(b.app.offload.dispatcher.isPaused('batch')).toBe(true), SETTLE);
    const agent = await b.registerAgent({ capabilities: ['task:x'] });
    const job = await a.submit({ task: 'x', queue: 'batch' });
    expect((await agent.sync()).jobs).toEqual([]);
    const sync = await parkedSync(b, agent);
    expect((await a.request('POST', '/api/v1/queues/batch/resume')).status).toBe(200);
    const { body, ms } = await sync.done;
    expect(body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    expect(ms).toBeLessThan(WOKEN_WITHIN_MS);
    expect(b.app.offload.dispatcher.isPaused('batch')).toBe(false);
  });

  it('a drain on A reaches the agent parked on B at once; so does a cancel of its job', async () => {
    const agent = await b.registerAgent({ capabilities: ['task:x'] });
    const job = await a.submit({ task: 'x' });
    const [claim] = (await agent.sync({ max: 1 })).jobs;
    expect(claim?.id).toBe(job.id);

    let sync = await parkedSync(b, agent);
    expect((await a.request('POST', `/api/v1/jobs/${job.id}/cancel`)).status).toBe(202);
    let woken = await sync.done;
    expect(woken.body.cancel).toEqual([claim!.leaseId]);
    expect(woken.ms).toBeLessThan(WOKEN_WITHIN_MS);

    // Another agent, parked with nothing to run: drained through A.
    const idle = await b.registerAgent({ capabilities: ['task:none'] });
    sync = await parkedSync(b, idle);
    expect((await a.request('POST', `/api/v1/agents/${idle.id}/drain`)).status).toBe(200);
    woken = await sync.done;
    expect(woken.body.drain).toBe(true);
    expect(woken.ms).toBeLessThan(WOKEN_WITHIN_MS);
  });

  it("after B's feed connection is killed, it reconnects and resyncs: nothing submitted meanwhile is stranded", async () => {
    const agent = await b.registerAgent({ capabilities: ['task:x'] });
    const sync = await parkedSync(b, agent);
    const feed = b.app.offload.feed;
    const { rows } = await queryTestDatabase<{ killed: boolean }>(
      env.url,
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1`,
      [`offload-test-${group.schema}-1-listen`],
    );
    expect(rows.map((r) => r.killed)).toEqual([true]);
    // Submitted while B may not be listening: the resync after the reconnect finds it.
    const job = await a.submit({ task: 'x' });
    const { body, ms } = await sync.done;
    expect(body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    expect(ms).toBeLessThan(WOKEN_WITHIN_MS);
    await feed.whenListening();
    expect(feed.listening).toBe(true);
  });
});

/**
 * B misses changes while its feed is down (a connection limit on B's own role keeps the
 * listening connection from coming back): once it listens again, its resync releases the
 * waiter of a job finished meanwhile and streams the lines shipped meanwhile.
 */
describeWithPostgres(env, 'a server whose feed was down catches up', () => {
  it('its waiters and log followers re-read their jobs on the resync', async () => {
    const role = `offload_test_feed_${Math.random().toString(36).slice(2, 10)}`;
    const q = (sql: string, params: unknown[] = []) => queryTestDatabase(env.url, sql, params);
    const admin = new URL(env.url);
    await q(`CREATE ROLE "${role}" LOGIN`);
    // The tables are the test user's (server A creates them): B's role acts as that user.
    await q(`GRANT "${decodeURIComponent(admin.username)}" TO "${role}"`);
    await q(`GRANT CREATE ON DATABASE "${admin.pathname.slice(1)}" TO "${role}"`);
    const asRole = new URL(env.url);
    asRole.username = role;
    asRole.password = '';
    let group: ServerGroup | undefined;
    try {
      group = await openServerGroup(env, 2, {
        config: { leaseTimeoutMs: 60_000 },
        urlFor: (i) => (i === 1 ? asRole.toString() : env.url),
      });
      const [a, b] = group.servers as [GroupServer, GroupServer];
      const agent = await a.registerAgent({ capabilities: ['task:x'] });
      const job = await a.submit({ task: 'x' });
      const [claim] = (await agent.sync()).jobs;
      const ship = (data: string) =>
        a.request('POST', '/api/v1/agent/logs', {
          token: agent.secret,
          body: { logs: [{ jobId: job.id, leaseId: claim!.leaseId, stream: 'stdout', data }] },
        });
      let released = false;
      const waited = b
        .request('GET', `/api/v1/jobs/${job.id}/wait?timeoutSec=${LONG_WAIT_MS / 1000}`)
        .finally(() => (released = true));
      const follow = await openSse(
        `${await b.listen()}/api/v1/jobs/${job.id}/logs?follow=1`,
        b.token,
      );
      try {
        await ship('before\n');
        await follow.next((e) => e.event === 'stdout' && JSON.parse(e.data) === 'before\n');

        // B's pool at its full size, then no new connection for B's role: B's listening
        // connection, killed, cannot come back.
        await Promise.all(Array.from({ length: 8 }, () => b.store.ping()));
        const { rows } = await q(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
          [role],
        );
        await q(`ALTER ROLE "${role}" CONNECTION LIMIT ${(rows[0]!.n as number) - 1}`);
        await q(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [`offload-test-${group.schema}-1-listen`],
        );
        const feed = b.app.offload.feed;
        await vi.waitFor(() => expect(feed.listening).toBe(false), SETTLE);

        await ship('during the gap\n');
        await agent.sync({
          completions: [{ jobId: job.id, leaseId: claim!.leaseId, outcome: 'succeeded' }],
        });
        // Nothing told B: its waiter still waits.
        expect(released).toBe(false);

        await q(`ALTER ROLE "${role}" CONNECTION LIMIT -1`);
        const res = await waited;
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: job.id, state: 'succeeded' });
        const end = await follow.next((e) => e.event === 'end');
        expect(JSON.parse(end.data)).toMatchObject({ state: 'succeeded' });
        expect(
          follow.events.filter((e) => e.event === 'stdout').map((e) => JSON.parse(e.data)),
        ).toEqual(['before\n', 'during the gap\n']);
        expect(feed.listening).toBe(true);
      } finally {
        follow.close();
      }
    } finally {
      await q(`ALTER ROLE "${role}" CONNECTION LIMIT -1`).catch(() => undefined);
      await group?.close();
      await q(`DROP OWNED BY "${role}"`);
      await q(`DROP ROLE IF EXISTS "${role}"`);
    }
  });
});
