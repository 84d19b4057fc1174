import pg from 'pg';
import { openPostgresStore, type Store } from '@offload/store';
import {
  claim,
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  makeAgent,
  makeJob,
  postgresTestEnv,
  submit,
  T0,
} from '@offload/store/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  LEASES_TO_CANCEL_SQL,
  REAP_AGENTS_SQL,
  RUNNING_ON_AGENTS_SQL,
} from '../src/postgres/postgres-agents.js';
import {
  AGENT_CLAIM_LOCK_SQL,
  CLAIM_LOCK_CHOSEN_SQL,
  CLAIM_ONE_RANGE_SQL,
  CLAIM_PEEK_SQL,
  RESERVATIONS_SQL,
} from '../src/postgres/postgres-claim.js';
import { BY_ID_SQL, LOCK_BY_IDS_SQL } from '../src/postgres/postgres-context.js';
import { buildListQuery } from '../src/postgres/postgres-job-list.js';
import {
  BY_IDEMPOTENCY_SQL,
  BY_IDS_SQL,
  PURGE_SQL,
  RUNNING_ON_AGENT_SQL,
} from '../src/postgres/postgres-jobs.js';
import { CLASSES_WITH_QUEUED_SQL } from '../src/postgres/postgres-queues.js';
import * as sweeps from '../src/postgres/postgres-sweeps.js';

const env = await postgresTestEnv();

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(p: PlanNode): PlanNode[] {
  return [p, ...(p.Plans ?? []).flatMap(nodes)];
}

/**
 * The hot queries must be index lookups whatever the number of finished jobs: on a schema
 * with realistic data (most jobs finished, some queued, a few running and scheduled) and
 * fresh statistics (ANALYZE), EXPLAIN names the intended index and shows no sequential
 * scan of jobs and no sort of its rows. The planner is left alone (no enable_seqscan
 * tricks): these are the plans production would get.
 */
describeWithPostgres(env, 'postgres query plans', () => {
  const schema = freshSchemaName();
  let store: Store;
  let client: pg.Client;
  let classId = 0;
  let agentId = '';
  let jobIds: string[] = [];

  beforeAll(async () => {
    store = await openPostgresStore({ url: env.url, schema, poolSize: 2 });
    const jobs = Array.from({ length: 6_000 }, (_, i) =>
      makeJob({
        queue: `q${i % 4}`,
        priority: i % 3 === 0 ? 'high' : 'normal',
        requires: { cpu: i % 2 === 0 ? 1 : 0.5 },
        ...(i % 10 === 0 ? { tags: { shot: `s${i % 7}` } } : {}),
        ...(i % 50 === 0 ? { delaySec: 60, expireAfterSec: 600 } : {}),
      }),
    );
    for (let i = 0; i < jobs.length; i += 1_000) await submit(store, ...jobs.slice(i, i + 1_000));
    jobIds = jobs.map((j) => j.id);
    // Most finished, as under retention: ten agents claim 500 each and report all but 20.
    for (let a = 0; a < 10; a++) {
      const agent = makeAgent({
        maxJobs: 500,
        resources: { cpu: 1_000, memoryMb: 1_000_000, gpus: [] },
      });
      agentId = agent.id;
      const claimed = await claim(store, agent, { max: 500, now: T0 + a });
      await store.jobsComplete({
        agentId: agent.id,
        reports: claimed.slice(20).map((c) => ({
          jobId: c.job.id,
          leaseId: c.job.leaseId!,
          outcome: 'succeeded' as const,
        })),
        now: T0 + 100 + a,
      });
    }
    // A farm's agents table: a few hundred, most online and recently seen, some long gone.
    for (let a = 0; a < 300; a++) {
      await store.agentUpsert({
        agent: makeAgent({
          state: a % 5 === 0 ? 'offline' : a % 7 === 0 ? 'revoked' : 'online',
          lastSeenAt: T0 + 1_000 * a,
        }),
      });
    }
    classId = (await store.classesList({ afterId: 0 }))[0]!.id;
    client = new pg.Client({ connectionString: env.url, options: `-c search_path=${schema}` });
    await client.connect();
    await client.query('ANALYZE');
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await store?.close();
    await dropSchema(env.url, schema);
  });

  const plan = async (sql: string, params: unknown[]): Promise<PlanNode[]> => {
    const res = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (FORMAT JSON) ${sql}`,
      params,
    );
    return nodes(res.rows[0]!['QUERY PLAN'][0]!.Plan);
  };

  /**
   * [name, query and parameters, the index it must use (or one of them), why a Sort is fine (else none may
   * appear)]. A Sort is fine only over rows the query must return anyway — a batch it
   * was given, or one agent's running jobs — never over jobs in general.
   */
  const BATCH = 'sorts the batch it was given, to lock in seq order';
  const AGENT = "sorts one agent's running jobs";
  const cases: Array<[string, () => [string, unknown[]], string | string[], string?]> = [
    [
      'claim: one range, locked',
      () => [CLAIM_ONE_RANGE_SQL, [[classId], [0], [3], [Number.MAX_SAFE_INTEGER], [100]]],
      'jobs_claim',
    ],
    [
      'claim: peek at several classes',
      () => [
        CLAIM_PEEK_SQL,
        [
          [classId, classId + 1],
          [0, 0],
          [3, 3],
          [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
          [100, 100],
          [1, 2],
        ],
      ],
      'jobs_claim',
    ],
    [
      'claim: peek before a tier cutoff',
      () => [CLAIM_PEEK_SQL, [[classId, classId], [0, 1], [0, 1], [T0, T0], [100, 100], []]],
      'jobs_claim',
    ],
    // A probe per chosen seq: by primary key, or by (state, seq) with state = 'queued'.
    [
      'claim: lock the chosen',
      () => [CLAIM_LOCK_CHOSEN_SQL, [[1, 2, 3]]],
      ['jobs_pkey', 'jobs_state_seq'],
      BATCH,
    ],
    ['claim: running reservations', () => [RESERVATIONS_SQL, [agentId]], 'jobs_running_agent'],
    ['promote due', () => [sweeps.PROMOTE_DUE_SQL, [T0 + 120_000, 100]], 'jobs_promote'],
    ['expire due', () => [sweeps.EXPIRE_DUE_SQL, [T0 + 700_000, 100]], 'jobs_expire'],
    ['timeout due', () => [sweeps.TIMEOUT_DUE_SQL, [T0 + 700_000, 100]], 'jobs_deadline'],
    ['next promote', () => [sweeps.NEXT_PROMOTE_SQL, []], 'jobs_promote'],
    ['next expire', () => [sweeps.NEXT_EXPIRE_SQL, []], 'jobs_expire'],
    ['next timeout', () => [sweeps.NEXT_TIMEOUT_SQL, []], 'jobs_deadline'],
    ['reap: stale agents', () => [REAP_AGENTS_SQL, [T0 + 10_000]], 'agents_reap'],
    [
      'reap: their running jobs',
      () => [RUNNING_ON_AGENTS_SQL, [[agentId]]],
      'jobs_running_agent',
      AGENT,
    ],
    ['running on an agent', () => [RUNNING_ON_AGENT_SQL, [agentId]], 'jobs_running_agent', AGENT],
    ['leases to cancel', () => [LEASES_TO_CANCEL_SQL, [agentId]], 'jobs_running_agent'],
    // Every finished job is past the cutoff: the ordered index scan stops after `limit`.
    ['purge', () => [PURGE_SQL, [T0 + 1_000, 500]], 'jobs_finished'],
    ['classes with queued jobs', () => [CLASSES_WITH_QUEUED_SQL, []], 'jobs_claim'],
    ['get by id', () => [BY_ID_SQL, ['job-000001']], 'jobs_id_key'],
    // What a change feed delivery names: up to ~150 jobs, finished ones among them.
    ['jobs by ids', () => [BY_IDS_SQL, [jobIds.filter((_, i) => i % 40 === 0)]], 'jobs_id_key'],
    ['jobs by ids, a few', () => [BY_IDS_SQL, [jobIds.slice(0, 3)]], 'jobs_id_key'],
    [
      'lock reported jobs',
      () => [LOCK_BY_IDS_SQL, [['job-000001', 'job-000002']]],
      'jobs_id_key',
      BATCH,
    ],
    ['idempotency keys', () => [BY_IDEMPOTENCY_SQL, [['k1', 'k2']]], 'jobs_idempotency'],
    [
      'list by state',
      () => {
        const q = buildListQuery({ limit: 10, state: 'queued', cursor: 'MTAw' });
        return [q.sql, [...q.params, 11]];
      },
      'jobs_state_seq',
    ],
    [
      'list by queue',
      () => {
        const q = buildListQuery({ limit: 10, queue: 'q1' });
        return [q.sql, [...q.params, 11]];
      },
      'jobs_queue_seq',
    ],
    [
      'list by agent',
      () => {
        const q = buildListQuery({ limit: 10, agentName: 'a' });
        return [q.sql, [...q.params, 11]];
      },
      'jobs_agent_name_seq',
    ],
    [
      'list by tag',
      () => {
        const q = buildListQuery({ limit: 10, tag: { key: 'shot', value: 's1' } });
        return [q.sql, [...q.params, 11]];
      },
      'job_tags_pkey',
    ],
  ];

  for (const [name, query, index, sortIsFine] of cases) {
    it(`${name} uses ${index.toString()}`, async () => {
      const [sql, params] = query();
      const all = await plan(sql, params);
      const used = all.map((n) => n['Index Name']);
      expect(
        (Array.isArray(index) ? index : [index]).some((i) => used.includes(i)),
        `${index.toString()} in ${JSON.stringify(all.map((n) => [n['Node Type'], n['Index Name']]))}`,
      ).toBe(true);
      const scans = all.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']);
      expect(scans).not.toContain('jobs');
      expect(scans).not.toContain('job_tags');
      if (sortIsFine === undefined) expect(all.map((n) => n['Node Type'])).not.toContain('Sort');
    });
  }

  it('the agent claim lock is one advisory lock and the agent read by its key', async () => {
    const all = await plan(AGENT_CLAIM_LOCK_SQL, [1, 'x']);
    expect(all.map((n) => n['Node Type'])).toEqual(['Result', 'Index Scan']);
    expect(all.map((n) => n['Index Name'])).toContain('agents_pkey');
  });

  it('the unfiltered list walks seq backwards from the cursor, without sorting', async () => {
    const q = buildListQuery({ limit: 10, cursor: 'MTAw' });
    const all = await plan(q.sql, [...q.params, 11]);
    expect(all.map((n) => n['Index Name'])).toContain('jobs_pkey');
    expect(all.map((n) => n['Node Type'])).not.toContain('Sort');
  });
});
