import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '@offload/store';
import { makeAgent, makeJob, submit, claim, T0 } from '@offload/store/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAP_AGENTS_SQL, LEASES_TO_CANCEL_SQL } from '../src/sqlite/sqlite-agents.js';
import { ATTEMPTS_SQL } from '../src/sqlite/sqlite-attempts.js';
import {
  AGENT_STATE_SQL,
  CLAIM_HEAD_BEFORE_SQL,
  CLAIM_HEAD_SQL,
  RESERVATIONS_SQL,
} from '../src/sqlite/sqlite-claim.js';
import { buildListQuery } from '../src/sqlite/sqlite-job-list.js';
import { BY_IDS_SQL, PURGE_SQL, RUNNING_ON_AGENT_SQL } from '../src/sqlite/sqlite-jobs.js';
import { JOB_COLUMNS } from '../src/sqlite/sqlite-rows.js';
import * as sweeps from '../src/sqlite/sqlite-sweeps.js';

/**
 * The hot queries must be index lookups whatever the queue depth: EXPLAIN QUERY PLAN names
 * the index and never a full SCAN of jobs or a sort. Checked on a file that has data and
 * statistics (ANALYZE), since the planner's choice can change with them.
 */
describe('sqlite query plans', () => {
  let dir: string;
  let db: Database.Database;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-plans-'));
    const file = path.join(dir, 'offload.db');
    const store = await openSqliteStore({ path: file });
    // Skewed like a busy queue: many queued and finished, a few scheduled and running.
    const jobs = Array.from({ length: 2_000 }, (_, i) =>
      makeJob({
        queue: `q${i % 4}`,
        priority: i % 3 === 0 ? 'high' : 'normal',
        ...(i % 50 === 0 ? { delaySec: 60, expireAfterSec: 600 } : {}),
      }),
    );
    await submit(store, ...jobs);
    const agent = makeAgent();
    for (let i = 0; i < 8; i++) await claim(store, agent, { max: 100, now: T0 + i });
    const running = await store.jobsRunningOnAgent({ agentId: agent.id });
    await store.jobsComplete({
      agentId: agent.id,
      reports: running
        .slice(10)
        .map((j) => ({ jobId: j.id, leaseId: j.leaseId!, outcome: 'succeeded' as const })),
      now: T0 + 10,
    });
    await store.close();
    db = new Database(file);
    db.exec('ANALYZE');
  });

  afterAll(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const plan = (sql: string): string => {
    const params = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 1);
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{
      detail: string;
    }>;
    return rows.map((r) => r.detail).join(' | ');
  };

  const cases: Array<[string, string, string]> = [
    ['claim head', CLAIM_HEAD_SQL, 'COVERING INDEX jobs_claim (class_id=?)'],
    [
      'claim head before a tier cutoff',
      CLAIM_HEAD_BEFORE_SQL,
      'COVERING INDEX jobs_claim (class_id=? AND priority=? AND queued_at<?)',
    ],
    ['claim: running reservations', RESERVATIONS_SQL, 'jobs_running_agent (agent_id=?)'],
    ["claim: the agent's stored state", AGENT_STATE_SQL, '(id=?)'],
    ['promote due', sweeps.PROMOTE_DUE_SQL, 'jobs_promote (run_at<?)'],
    ['expire due', sweeps.EXPIRE_DUE_SQL, 'jobs_expire'],
    ['timeout due', sweeps.TIMEOUT_DUE_SQL, 'jobs_deadline (deadline_at<?)'],
    ['next promote', sweeps.NEXT_PROMOTE_SQL, 'jobs_promote'],
    ['next expire', sweeps.NEXT_EXPIRE_SQL, 'jobs_expire'],
    ['next timeout', sweeps.NEXT_TIMEOUT_SQL, 'jobs_deadline'],
    ['reap: stale agents', REAP_AGENTS_SQL, 'agents_reap (last_seen_at<?)'],
    ['reap: their running jobs', RUNNING_ON_AGENT_SQL, 'jobs_running_agent (agent_id=?)'],
    ['leases to cancel', LEASES_TO_CANCEL_SQL, 'jobs_running_agent (agent_id=?)'],
    ['purge', PURGE_SQL, 'jobs_finished (finished_at<?)'],
    ["a job's attempts, in order", ATTEMPTS_SQL, 'PRIMARY KEY (job_seq=?)'],
    [
      'purge: attempts of a job',
      'SELECT 1 FROM job_attempts WHERE job_seq = ?',
      'PRIMARY KEY (job_seq=?)',
    ],
    ['get by id', `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`, '(id=?)'],
    [
      'idempotency key',
      `SELECT ${JOB_COLUMNS} FROM jobs WHERE idempotency_key = ?`,
      'jobs_idempotency (idempotency_key=?)',
    ],
    [
      'list by state',
      buildListQuery({ limit: 10, state: 'queued', cursor: 'MTAw' }).sql,
      'jobs_state_seq (state=? AND seq<?)',
    ],
    ['list by queue', buildListQuery({ limit: 10, queue: 'q1' }).sql, 'jobs_queue_seq (queue=?)'],
    [
      'list by agent',
      buildListQuery({ limit: 10, agentName: 'a' }).sql,
      'jobs_agent_name_seq (agent_name=?)',
    ],
    [
      'list by tag',
      buildListQuery({ limit: 10, tag: { key: 'k', value: 'v' } }).sql,
      'PRIMARY KEY (key=? AND value=?)',
    ],
  ];

  for (const [name, sql, index] of cases) {
    it(`${name} uses ${index}`, () => {
      const p = plan(sql);
      expect(p).toContain(index);
      expect(p).not.toMatch(/\bSCAN\b/);
      expect(p).not.toContain('TEMP B-TREE');
    });
  }

  it('jobs by ids probe the id index once per id, walking only the ids given', () => {
    const p = plan(BY_IDS_SQL);
    expect(p).toMatch(/SEARCH jobs USING INDEX \S+ \(id=\?\)/);
    // The one scan is json_each over the ids passed, never jobs.
    expect(p.match(/\bSCAN \S+/g)).toEqual(['SCAN json_each']);
    expect(p).not.toContain('TEMP B-TREE');
  });

  it('the unfiltered list walks seq backwards from the cursor, without sorting', () => {
    const p = plan(buildListQuery({ limit: 10, cursor: 'MTAw' }).sql);
    expect(p).toContain('INTEGER PRIMARY KEY (rowid<?)');
    expect(p).not.toContain('TEMP B-TREE');
  });
});
