import type { Store } from '@offload/store';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestServer, type TestAgent, type TestServer } from './test-server.js';

/**
 * A job submitted while an agent that accepts it waits in a sync goes to that agent in the
 * submit's own transaction (Store jobsSubmitAndClaim), not by a wake-up and a second
 * transaction. These tests watch the store calls through a proxy, on either store.
 */
const WATCHED = ['jobsSubmit', 'jobsClaim', 'jobsSubmitAndClaim'] as const;
type Watched = (typeof WATCHED)[number];

let t: TestServer;
let calls: Record<Watched, number>;
/** Set to make the next jobsSubmitAndClaim fail (as a lost database connection would). */
let failNext: Error | null;

function watch(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (!(WATCHED as readonly PropertyKey[]).includes(prop)) return value;
      return async (p: never) => {
        calls[prop as Watched]++;
        if (prop === 'jobsSubmitAndClaim' && failNext) {
          const err = failNext;
          failNext = null;
          throw err;
        }
        return (value as (p: never) => Promise<unknown>).call(target, p);
      };
    },
  });
}

async function setUp(): Promise<TestAgent> {
  calls = { jobsSubmit: 0, jobsClaim: 0, jobsSubmitAndClaim: 0 };
  failNext = null;
  t = await createTestServer({}, { wrapStore: watch });
  const agent = await t.registerAgent({ maxJobs: 4 });
  // The class becomes known to the dispatcher with a first job, claimed the usual way.
  const first = await t.submit({ command: ['true'] });
  expect((await agent.sync({ max: 1 })).jobs.map((j) => j.id)).toEqual([first.id]);
  return agent;
}

/** A sync that waits for work, once the dispatcher holds it parked (wrapped: not awaited here). */
async function parkedSync(agent: TestAgent, waitMs = 2_000) {
  const before = t.app.offload.dispatcher.parkedCount;
  const sync = agent.sync({ max: 1, waitMs });
  await vi.waitFor(() => expect(t.app.offload.dispatcher.parkedCount).toBe(before + 1));
  for (const k of WATCHED) calls[k] = 0;
  return { sync };
}

afterEach(async () => {
  await t?.close();
});

describe('hand-off of a submitted job to a waiting agent', () => {
  it('claims it in the submit transaction, and tells of it as created, then started', async () => {
    const agent = await setUp();
    const events: string[] = [];
    t.app.offload.hub.subscribe({}, (e) => {
      if ('job' in e) events.push(`${e.type} ${e.job.id}`);
    });
    const { sync } = await parkedSync(agent);
    const job = await t.submit({ command: ['echo', 'handed'] });
    expect(job.state).toBe('queued'); // the submit's answer: the job as stored

    const { jobs } = await sync;
    expect(jobs.map((j) => j.id)).toEqual([job.id]);
    expect(calls).toEqual({ jobsSubmit: 0, jobsClaim: 0, jobsSubmitAndClaim: 1 });
    expect(events.filter((e) => e.endsWith(job.id))).toEqual([
      `job.created ${job.id}`,
      `job.started ${job.id}`,
    ]);
    const stored = await t.request('GET', `/api/v1/jobs/${job.id}`);
    expect(stored.body).toMatchObject({ state: 'running', agent: { id: agent.id } });
  });

  it('a failed hand-off fails that submit only: the agent goes on waiting and takes the next job', async () => {
    const agent = await setUp();
    const { sync } = await parkedSync(agent);
    failNext = Object.assign(new Error('connection terminated'), { code: 'ECONNRESET' });
    const refused = await t.request('POST', '/api/v1/jobs', { body: { command: ['true'] } });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    const listed = await t.request('GET', '/api/v1/jobs', { query: { state: 'queued' } });
    expect(listed.body.jobs).toEqual([]); // nothing stored

    await vi.waitFor(() => expect(t.app.offload.dispatcher.parkedCount).toBe(1)); // parked again
    const next = await t.submit({ command: ['true'] });
    expect((await sync).jobs.map((j) => j.id)).toEqual([next.id]);
  });

  it('hands nothing into a paused queue, nor to an agent that does not accept the job', async () => {
    const agent = await setUp();
    // Both classes known to the dispatcher first: a new class is never handed off.
    await t.submit({ command: ['true'], requires: { capabilities: ['gpu'] } });
    const held = await t.submit({ command: ['true'], queue: 'held' });
    expect((await agent.sync({ max: 1 })).jobs.map((j) => j.id)).toEqual([held.id]);
    expect((await t.request('POST', '/api/v1/queues/held/pause')).status).toBe(200);
    const { sync } = await parkedSync(agent, 300);
    await t.submit({ command: ['true'], queue: 'held' });
    await t.submit({ command: ['true'], requires: { capabilities: ['gpu'] } });
    expect((await sync).jobs).toEqual([]);
    expect(calls.jobsSubmitAndClaim).toBe(0);
    expect(calls.jobsSubmit).toBe(2);
  });
});
