// `npm run bench -- --smoke`: the benchmark harness end to end at a tiny size (servers,
// real and simulated agents, submitters and the anchors' drivers and workers in their own
// processes). It checks that the harness runs, verifies its own results (all jobs
// succeeded, each ran once) and prints every row; it never asserts a timing, and the real
// benchmarks never run in `npm test`. offload on SQLite and the design's floor (the bare
// HTTP + SQLite prototype) always; BullMQ (one anchor) when
// Redis answers; offload on PostgreSQL (one and three servers) when PostgreSQL does. It runs
// the built dist/ (`npm run build`; CI builds in `npm ci`) and does not build it itself: a
// test should not write dist/ under another build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWithPostgres, postgresTestEnv, queryTestDatabase } from '@offload/store/testing';
import { redisUnavailable } from '../../bench/lib/redis.js';

const root = join(import.meta.dirname, '..', '..');
const pg = await postgresTestEnv();
const noRedis = await redisUnavailable();

function runSmoke(
  only: string,
  env: NodeJS.ProcessEnv = {},
  flags: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['bench/run.js', '--smoke', '--no-build', '--only', only, ...flags],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The table rows of `system` whose first cell is `scenario`. */
function rows(stdout: string, scenario: string, system: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(`| ${scenario} |`) && l.includes(`| ${system} |`));
}

/** Exit 0, a row for each scenario, none failed or skipped. */
function expectRows(
  run: { code: number | null; stdout: string; stderr: string },
  system: string,
  scenarios: string[],
): void {
  const { code, stdout, stderr } = run;
  expect(code, `exit code; stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  for (const scenario of scenarios) {
    expect(rows(stdout, scenario, system), `no row for ${scenario}, ${system}`).not.toEqual([]);
  }
  expect(stdout).not.toMatch(/FAILED|skipped:/);
}

const OFFLOAD_SCENARIOS = [
  'enqueue, bulk',
  'enqueue, single',
  'processing, 1 agent / worker',
  'processing, 2 agents',
  'lone-job latency',
  'processing, 1 simulated agent',
  'processing, 2 simulated agents',
  'claim+complete at depth',
  'shell-overhead',
  'shell-throughput',
  'target',
];

describe('npm run bench -- --smoke', () => {
  it('measures offload on SQLite: every case, and the targets', { timeout: 240_000 }, async () => {
    const run = await runSmoke('offload-sqlite');
    expectRows(run, 'offload (SQLite)', OFFLOAD_SCENARIOS);
    // The targets against BullMQ are judged on its figure of an earlier run when it did not
    // run, and the design's floor is the limits run's when the prototype did not.
    expect(run.stdout).toMatch(/BullMQ of an earlier run/);
    expect(rows(run.stdout, 'lone-job latency', 'offload (SQLite)')[0]).toMatch(/\(limits run\)/);
  });

  it('measures the design floor, and puts offload beside it', { timeout: 120_000 }, async () => {
    const run = await runSmoke('prototype,lone-latency@10-warm/offload-sqlite');
    const prototype = 'prototype (bare HTTP + SQLite)';
    expectRows(run, prototype, [
      'enqueue, bulk',
      'enqueue, single',
      'processing, 1 agent / worker',
      'lone-job latency',
      'design floor',
    ]);
    // offload's row carries this run's floor, not the limits run's figure.
    const lone = rows(run.stdout, 'lone-job latency', 'offload (SQLite)')[0] ?? '';
    const floorCell = lone.split(' | ')[6] ?? '';
    expect(floorCell, lone).toMatch(/^[\d.,]+ \([\d.]+×\)$/);
    // The worst job beside the percentiles, from offload's case and from the anchor driver.
    for (const system of ['offload (SQLite)', prototype]) {
      const worst = rows(run.stdout, 'lone-job latency', system).find((r) =>
        r.includes('| max ms |'),
      );
      expect(worst, `no max ms row for ${system}`).toMatch(/\| max ms \| [\d.,]+ \|/);
    }
  });

  it("profiles the server's allocations in the window", { timeout: 120_000 }, async () => {
    const run = await runSmoke('process-sim-1@', {}, ['--alloc-prof']);
    expectRows(run, 'offload (SQLite)', ['processing, 1 simulated agent']);
    const file = /allocations (\S+\.heapprofile): (\d+) MiB allocated in the window/.exec(
      run.stdout,
    );
    expect(file, run.stdout).not.toBeNull();
    expect(existsSync(file![1]!)).toBe(true);
    // Bytes by allocating function follow (what is sampled varies with the tiny size).
    expect(run.stdout).toMatch(/ by allocating function:\n +[\d.]+ % +[\d.]+ MiB {2}\S/);
  });

  it("times a lone job's legs on the server's clock", { timeout: 120_000 }, async () => {
    const run = await runSmoke(
      'lone-latency@10-warm/offload-sqlite,lone-latency@10-warm/prototype',
      {},
      ['--segments'],
    );
    expectRows(run, 'offload (SQLite)', ['lone-job latency']);
    // One block per server that ran the lone jobs: offload's and the prototype's.
    const blocks = run.stdout.match(
      /segments .+ \(server clock, last \d+ jobs; p50 \/ mean \/ p99 ms\):\n( {6}\w+ +[\d.]+ \/ [\d.]+ \/ [\d.]+\n){4}/g,
    );
    expect(blocks, run.stdout).toHaveLength(2);
    for (const leg of ['handOff', 'agentTurn', 'answer', 'clientTurn'])
      for (const block of blocks!) expect(block).toMatch(new RegExp(`\\n {6}${leg} `));
  });

  it.skipIf(noRedis !== null)(
    `measures BullMQ on Redis${noRedis ? ` (skipped: ${noRedis})` : ''}`,
    { timeout: 120_000 },
    async () => {
      const run = await runSmoke('bullmq');
      expectRows(run, 'BullMQ', [
        'enqueue, bulk',
        'enqueue, single',
        'processing, 1 agent / worker',
        'lone-job latency',
      ]);
    },
  );
  if (noRedis) console.warn(`skipping the BullMQ smoke case: ${noRedis}`);
});

describeWithPostgres(pg, 'npm run bench -- --smoke on PostgreSQL', () => {
  it('measures offload on PostgreSQL, on one and three servers', { timeout: 360_000 }, async () => {
    const run = await runSmoke('offload-postgres', { OFFLOAD_BENCH_POSTGRES_URL: pg.url });
    expectRows(run, 'offload (PostgreSQL)', [
      ...OFFLOAD_SCENARIOS,
      'processing, servers on one PostgreSQL',
      'lone-job latency, servers on one PostgreSQL',
    ]);
    expect(run.stdout).toMatch(/3 servers, 3 real agents/);
    // Every case dropped its schema.
    const left = await queryTestDatabase<{ n: number }>(
      pg.url,
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'bench\\_offload\\_%'",
    );
    expect(left.rows[0]?.n).toBe(0);
  });
});
