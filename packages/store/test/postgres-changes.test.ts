import { openPostgresStore, type Store, type StoreChanges } from '@offload/store';
import {
  classesFor,
  classIdOf,
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  makeAgent,
  makeJob,
  postgresTestEnv,
  queryTestDatabase,
  submit,
  T0,
} from '@offload/store/testing';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeSet, decodeChanges, encodeChanges } from '../src/postgres/postgres-changes.js';

const env = await postgresTestEnv();

/**
 * The change feed: what one server commits reaches the other servers' subscribers, one
 * delivery per transaction, never the committing server's own.
 */
describeWithPostgres(env, 'postgres store: change feed (LISTEN/NOTIFY)', () => {
  let schema: string;
  let a: Store;
  let b: Store;
  let heard: StoreChanges[];
  let own: StoreChanges[];

  beforeEach(async () => {
    schema = freshSchemaName();
    a = await openPostgresStore({ url: env.url, schema, poolSize: 2 });
    b = await openPostgresStore({
      url: env.url,
      schema,
      poolSize: 2,
      applicationName: `offload-test-${schema}`,
    });
    heard = [];
    own = [];
    b.subscribeChanges((c) => heard.push(c));
    a.subscribeChanges((c) => own.push(c));
    // The feed says resync once it listens: from then on nothing is missed.
    for (const log of [heard, own]) {
      await vi.waitFor(() => expect(log).toEqual([expect.objectContaining({ resync: true })]), {
        timeout: 5_000,
      });
      log.length = 0;
    }
  });

  afterEach(async () => {
    await a.close();
    await b.close();
    await dropSchema(env.url, schema);
  });

  /** Waits until `n` deliveries arrived, and checks that no more follow a marker. */
  const deliveries = async (n: number): Promise<StoreChanges[]> => {
    await a.queueSetPaused({ name: 'marker', paused: false });
    await vi.waitFor(() => expect(heard.length).toBe(n + 1), { timeout: 5_000 });
    const got = heard.splice(0);
    expect(got.pop()).toMatchObject({ queues: true, jobs: [] });
    return got;
  };

  it('announces a submit batch once, with the classes that gained queued jobs', async () => {
    const now = makeJob();
    const later = makeJob({ delaySec: 60 });
    await submit(a, now, later);
    const [c] = await deliveries(1);
    expect(c).toEqual({
      queuedClasses: [await classIdOf(a, now)],
      jobs: [
        { id: now.id, from: null, to: 'queued' },
        { id: later.id, from: null, to: 'scheduled' },
      ],
      logs: [],
      agents: [],
      queues: false,
      resync: false,
    });
    expect(own).toEqual([]); // never the store's own commits
  });

  it('announces a claim and a completion of several jobs as one delivery each', async () => {
    const jobs = [makeJob(), makeJob(), makeJob()];
    await submit(a, ...jobs);
    const agent = makeAgent();
    const claimed = await a.jobsClaim({
      agent,
      max: 10,
      classes: await classesFor(a, agent),
      now: T0,
    });
    await a.logsAppend({
      agentId: agent.id,
      chunks: [
        { jobId: jobs[0]!.id, leaseId: claimed[0]!.job.leaseId!, stream: 'stdout', data: 'hi' },
      ],
      capBytes: 1_000,
      now: T0,
    });
    await a.jobsComplete({
      agentId: agent.id,
      reports: claimed.map((c) => ({
        jobId: c.job.id,
        leaseId: c.job.leaseId!,
        outcome: 'succeeded' as const,
      })),
      now: T0 + 1,
    });
    const [submitted, claim, logs, complete] = await deliveries(4);
    expect(submitted!.jobs).toHaveLength(3);
    expect(claim!.jobs).toEqual(jobs.map((j) => ({ id: j.id, from: 'queued', to: 'running' })));
    expect(claim!.queuedClasses).toEqual([]);
    expect(logs).toMatchObject({ logs: [jobs[0]!.id], jobs: [] });
    expect(complete!.jobs).toEqual(
      jobs.map((j) => ({ id: j.id, from: 'running', to: 'succeeded' })),
    );
  });

  it('announces agent state changes and pause flags, but not heartbeats', async () => {
    const agent = makeAgent();
    await a.agentUpsert({ agent });
    await a.agentUpdate({ id: agent.id, lastSeenAt: T0 + 5 });
    await a.agentUpdate({ id: agent.id, state: 'draining' });
    await a.agentRevoke({ id: agent.id, now: T0 + 6 });
    await a.queueSetPaused({ name: 'render', paused: true });
    const got = await deliveries(4);
    expect(got.map((c) => c.agents)).toEqual([[agent.id], [agent.id], [agent.id], []]);
    expect(got[3]).toMatchObject({ queues: true });
  });

  it('splits a batch too large for one notification', async () => {
    const jobs = Array.from({ length: 400 }, () => makeJob());
    await submit(a, ...jobs);
    await a.queueSetPaused({ name: 'marker', paused: false });
    await vi.waitFor(() => expect(heard.at(-1)?.queues).toBe(true), { timeout: 5_000 });
    const chunks = heard.splice(0, heard.length - 1);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.some((c) => c.resync)).toBe(false);
    expect(chunks.flatMap((c) => c.jobs.map((j) => j.id))).toEqual(jobs.map((j) => j.id));
    expect(chunks[0]!.queuedClasses).toEqual([await classIdOf(a, jobs[0]!)]);
  });

  describe('a claim over several classes that passes rows over', () => {
    /** Two classes of ten queued jobs each, the first class's submitted first. */
    const twoClasses = async (): Promise<[number, number]> => {
      const first = Array.from({ length: 10 }, () => makeJob({ requires: { cpu: 1 } }));
      const second = Array.from({ length: 10 }, () => makeJob({ requires: { cpu: 0.5 } }));
      await submit(a, ...first);
      await submit(a, ...second);
      return [await classIdOf(a, first[0]!), await classIdOf(a, second[0]!)];
    };

    /**
     * Another claim in flight: a transaction holding these queued rows locked (as a claim
     * does between its lock and its commit) until `release`, which rolls it back — the
     * rows stay queued, as when that claim fails or gives up.
     */
    const holdRows = async (sql: string): Promise<{ release(): Promise<void> }> => {
      const c = new pg.Client({ connectionString: env.url, options: `-c search_path=${schema}` });
      await c.connect();
      await c.query('BEGIN');
      await c.query(`${sql} FOR UPDATE`);
      return {
        async release() {
          await c.query('ROLLBACK');
          await c.end();
        },
      };
    };

    const claimTwo = async () => {
      const agent = makeAgent({ maxJobs: 2 });
      return a.jobsClaim({ agent, max: 2, classes: await classesFor(a, agent), now: T0 });
    };

    it('names the classes it lost every round in and saw still queued, though it took nothing', async () => {
      const [first, second] = await twoClasses();
      const holder = await holdRows("SELECT seq FROM jobs WHERE state = 'queued'");
      try {
        expect(await claimTwo()).toEqual([]);
      } finally {
        await holder.release();
      }
      const [submitted1, submitted2, claim] = await deliveries(3);
      expect([submitted1!.queuedClasses, submitted2!.queuedClasses]).toEqual([[first], [second]]);
      // Lost: heads of the first class; seen queued when the rounds ran out: the second.
      expect(claim).toEqual({
        queuedClasses: [first, second],
        jobs: [],
        logs: [],
        agents: [],
        queues: false,
        resync: false,
      });

      // Nothing held any more: a claim that takes what it chose names no class.
      const taken = await claimTwo();
      expect(taken).toHaveLength(2);
      const [quiet] = await deliveries(1);
      expect(quiet!.queuedClasses).toEqual([]);
      expect(quiet!.jobs).toHaveLength(2);
    });

    it('names the class of the rows it lost even when it took others instead', async () => {
      const [first] = await twoClasses();
      // The two oldest: the heads this claim chooses first.
      const holder = await holdRows(
        "SELECT seq FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 2",
      );
      try {
        expect(await claimTwo()).toHaveLength(2);
      } finally {
        await holder.release();
      }
      const [, , claim] = await deliveries(3);
      expect(claim!.jobs).toHaveLength(2);
      expect(claim!.queuedClasses).toEqual([first]);
    });
  });

  it('reconnects a lost listening connection and says resync', async () => {
    const killed = await queryTestDatabase(
      env.url,
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [`offload-test-${schema}-listen`],
    );
    expect(killed.rowCount).toBe(1);
    await vi.waitFor(
      () => expect(heard).toContainEqual(expect.objectContaining({ resync: true })),
      {
        timeout: 5_000,
      },
    );
    heard.length = 0;
    const job = makeJob();
    await submit(a, job);
    const [c] = await deliveries(1);
    expect(c!.jobs).toEqual([{ id: job.id, from: null, to: 'queued' }]);
  });
});

describe('change payloads', () => {
  const changes = (n: number): ChangeSet => {
    const c = new ChangeSet();
    for (let i = 0; i < n; i++) c.job(`job-${i}-${'x'.repeat(30)}`, 'queued', 'running', 1);
    return c;
  };

  it('fit in PostgreSQL’s 8,000 bytes, chunked, and round-trip', () => {
    const texts = encodeChanges('me', changes(500));
    expect(texts.length).toBeGreaterThan(1);
    for (const t of texts) expect(Buffer.byteLength(t)).toBeLessThan(8_000);
    const decoded = texts.map((t) => decodeChanges(t)!);
    expect(decoded.every((d) => d.origin === 'me')).toBe(true);
    expect(decoded.flatMap((d) => d.changes.jobs)).toHaveLength(500);
    expect(decoded[0]!.changes.queuedClasses).toEqual([]);
  });

  it('degrade to the classes and resync past 64 notifications', () => {
    const c = changes(20_000);
    c.queuedClasses.add(7);
    const texts = encodeChanges('me', c);
    expect(texts).toHaveLength(1);
    expect(decodeChanges(texts[0]!)!.changes).toEqual({
      queuedClasses: [7],
      jobs: [],
      logs: [],
      agents: [],
      queues: false,
      resync: true,
    });
  });
});
