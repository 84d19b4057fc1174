import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Store } from '@offload/store';
import {
  describeWithPostgres,
  makeAgent,
  makeJob,
  openTestPostgresStore,
  postgresTestEnv,
  report,
  startJob,
  submit,
  T0,
} from '@offload/store/testing';
import { arrayLiteral, queryParams, sqlLiteral } from '../src/postgres/postgres-text.js';

const env = await postgresTestEnv();

// PostgreSQL text cannot hold NUL: every string reaches it with U+FFFD in its place
// (postgres-text.ts), instead of the statement failing with 22021 (a 500 for the request).
describeWithPostgres(env, 'postgres store: text with NUL', () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await openTestPostgresStore(env));
  });
  afterEach(async () => {
    await cleanup();
  });

  it('stores names, tags and keys with U+FFFD for NUL, and the payload exactly', async () => {
    const [job] = await submit(
      store,
      makeJob({
        command: ['echo', 'a\u0000b'],
        name: 'n\u0000',
        tags: { 'k\u0000': 'v\u0000' },
        idempotencyKey: 'key\u0000',
      }),
    );
    const stored = await store.jobGet({ id: job!.id });
    expect(stored).toMatchObject({
      name: 'n\uFFFD',
      tags: { 'k\uFFFD': 'v\uFFFD' },
      idempotencyKey: 'key\uFFFD',
      payload: { command: ['echo', 'a\u0000b'] },
    });
    const listed = await store.jobsList({ tag: { key: 'k\u0000', value: 'v\u0000' }, limit: 10 });
    expect(listed.jobs.map((j) => j.id)).toEqual([job!.id]);
  });

  it('finds nothing for an id with NUL', async () => {
    expect(await store.jobGet({ id: 'job_\u0000' })).toBeNull();
    expect(await store.agentGet({ id: 'agt_\u0000' })).toBeNull();
    await expect(store.jobCancel({ id: 'job_\u0000', now: T0 })).rejects.toMatchObject({
      code: 'JOB_NOT_FOUND',
    });
  });

  it('keeps output and error messages with NUL', async () => {
    const agent = makeAgent();
    await store.agentUpsert({ agent });
    const job = await startJob(store, agent);
    const out = await store.logsAppend({
      agentId: agent.id,
      chunks: [{ jobId: job.id, leaseId: job.leaseId!, stream: 'stdout', data: 'bin\u0000ary' }],
      capBytes: 1_000_000,
      now: T0 + 1,
    });
    expect(out.stale).toEqual([]);
    const read = await store.logsRead({ jobId: job.id });
    expect(read.chunks.map((c) => c.data)).toEqual(['bin\uFFFDary']);
    const r = await report(
      store,
      job,
      { outcome: 'failed', error: { code: 'EXIT_NONZERO', message: 'exit 1: \u0000' } },
      T0 + 2,
    );
    expect(r.ok).toBe(true);
    expect((await store.jobGet({ id: job.id }))?.error?.message).toBe('exit 1: \uFFFD');
  });
});

// Batched statements pass columns as arrays, encoded as array literals by queryParams rather
// than by node-postgres: what PostgreSQL reads back must be exactly what was passed.
describeWithPostgres(env, 'postgres array parameters', () => {
  let client: pg.Client;
  beforeEach(async () => {
    client = new pg.Client({ connectionString: env.url });
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
  });

  it('round-trip strings that need quoting, NULLs, numbers and booleans', async () => {
    const texts = [
      'plain',
      '',
      'NULL',
      'null',
      'a,b',
      '{x}',
      ' pad ',
      'q"uote',
      'back\\slash',
      '\\"',
      'é ✓ 🙂',
      'tab\tline\n',
      null,
    ];
    const ints = [0, -1, 2 ** 53 - 1, null];
    const reals = [0.5, -1e-9, 30, null];
    const bools = [true, false, null];
    const params = queryParams([texts, ints, reals, bools, 'scalar', 7]);
    expect(params.slice(0, 4).every((p) => typeof p === 'string')).toBe(true);
    const res = await client.query(
      'SELECT $1::text[] AS t, $2::bigint[]::text[] AS i, $3::double precision[] AS r, $4::boolean[] AS b, $5::text AS s, $6::int AS n',
      params,
    );
    const row = res.rows[0] as Record<string, unknown>;
    expect(row.t).toEqual(texts);
    expect(row.i).toEqual(ints.map((v) => (v === null ? null : String(v))));
    expect(row.r).toEqual(reals);
    expect(row.b).toEqual(bools);
    expect([row.s, row.n]).toEqual(['scalar', 7]);
  });

  it('write string literals that read back as given', async () => {
    const texts = [
      'plain',
      '',
      "it's",
      "''",
      'back\\slash',
      "\\'",
      '{"o":"x","j":[["a",null,"queued"]]}',
      'é 🙂',
    ];
    const res = await client.query(
      `SELECT ${texts.map((t, i) => `${sqlLiteral(t)}::text AS c${i}`).join(', ')}`,
    );
    expect(Object.values(res.rows[0] as Record<string, unknown>)).toEqual(texts);
  });

  it('round-trip arrays written as JSON and the numbers JSON cannot write', async () => {
    const texts = ['q"uote', 'back\\slash', '\\"', '', 'NULL', 'a,b', '{x}', ' ', null, 'é 🙂'];
    const reals = [1.5, Infinity, -Infinity, NaN, null];
    const big = [2n ** 63n - 1n, null];
    expect(arrayLiteral(texts)).toBe(`{${JSON.stringify(texts).slice(1, -1)}}`);
    const res = await client.query(
      'SELECT $1::text[] AS t, $2::double precision[] AS r, $3::bigint[]::text[] AS b',
      queryParams([texts, reals, big]),
    );
    const row = res.rows[0] as Record<string, unknown>;
    expect(row.t).toEqual(texts);
    expect(row.r).toEqual(reals);
    expect(row.b).toEqual(['9223372036854775807', null]);
  });

  it('leave arrays of other values to node-postgres', () => {
    const when = [new Date(0)];
    expect(arrayLiteral(when)).toBe(when);
    expect(arrayLiteral([])).toBe('{}');
  });
});
