import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Offload } from '@offload/client';
import type { JobState, JobSubmit } from '@offload/protocol';
import {
  describeWithPostgres,
  dropSchema,
  freshSchemaName,
  postgresTestEnv,
} from '@offload/store/testing';
import {
  assertBuilt,
  CliProcesses,
  cleanEnv,
  type CliProcess,
} from '../../packages/cli/test/cli-process.js';

/**
 * Three real `offload server` processes of the built CLI on one PostgreSQL schema, and two
 * agents homed on each, every agent given all three URLs (its home first: it fails over in
 * that order). Jobs are submitted spread over the three servers. "Ran exactly once" is
 * counted, not inferred from states: every run appends its job id to a runs file (the no-op
 * task in multi-server-tasks.mjs, or the command itself).
 *
 * The servers may or may not hear each other's changes (the cross-server change feed): an
 * agent parked on one server then takes work submitted to another when its long poll
 * returns, later but still once. Nothing here depends on how fast that is.
 */
const env = await postgresTestEnv();

const TASKS = fileURLToPath(new URL('./multi-server-tasks.mjs', import.meta.url));
const ADMIN = 'offa_multi_server_test_admin_token';
const SERVERS = 3;
const AGENTS_PER_SERVER = 2;
const NOOP_JOBS = 10_000;
const BATCH = 500;
const KILL_JOBS = 60;
const TERMINAL: JobState[] = ['succeeded', 'failed', 'canceled', 'expired'];

interface Server {
  name: string;
  url: string;
  proc: CliProcess;
  off: Offload;
}

describeWithPostgres(env, 'three servers on one PostgreSQL database', () => {
  let dir: string;
  let schema: string;
  let runsFile: string;
  let marker: string;
  const procs = new CliProcesses();
  const servers: Server[] = [];
  /** Agent name → the server it was started on (its first --server). */
  const homes = new Map<string, number>();

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(path.join(tmpdir(), 'offload-multi-server-'));
    runsFile = path.join(dir, 'runs.log');
    marker = `multi-server-marker-${process.pid}-${Date.now()}`;
    schema = freshSchemaName();
    const store = new URL(env.url);
    store.searchParams.set('schema', schema);

    // All three at once, as behind a load balancer: they queue on the migration lock and
    // register the one admin token (OFFLOAD_ADMIN_TOKEN) once between them.
    const started = await Promise.all(
      Array.from({ length: SERVERS }, async (_, i) => {
        const proc = procs.run(
          [
            'server',
            '--host',
            '127.0.0.1',
            '--port',
            '0',
            '--data-dir',
            path.join(dir, `server-${i}`),
            '--store',
            store.toString(),
            '--store-pool-size',
            '4',
            // A claim whose answer the killed server never sent is handed back after one lease
            // timeout; long enough that heartbeats late on a busy machine lose no lease.
            '--lease-timeout',
            '8s',
            '--log-level',
            'warn',
          ],
          { env: cleanEnv({ OFFLOAD_ADMIN_TOKEN: ADMIN }) },
        );
        const url = (await proc.waitForStderr(/listening on (http:\/\/\S+)/, 60_000))[1]!;
        return { name: `server-${i}`, url, proc, off: new Offload({ url, apiKey: ADMIN }) };
      }),
    );
    servers.push(...started);

    const join = (await servers[0]!.off.keys.create({ kind: 'join-token', name: 'multi' })).token;
    const agents: Array<Promise<RegExpMatchArray>> = [];
    for (let s = 0; s < SERVERS; s++) {
      for (let a = 0; a < AGENTS_PER_SERVER; a++) {
        const name = `agent-${s}-${a}`;
        homes.set(name, s);
        // Its home server first, then the others in order.
        const urls = Array.from({ length: SERVERS }, (_, k) => servers[(s + k) % SERVERS]!.url);
        const proc = procs.run(
          [
            'agent',
            ...urls.flatMap((u) => ['--server', u]),
            '--join',
            join,
            '--name',
            name,
            '--max-jobs',
            '100',
            // Work only the agents of one server may take (the kill case's).
            '--cap',
            `home-${s}`,
            '--tasks',
            TASKS,
            '--state-dir',
            path.join(dir, name),
            '--drain-timeout',
            '1s',
          ],
          { env: cleanEnv({ E2E_RUNS_FILE: runsFile, E2E_AGENT: name }) },
        );
        agents.push(proc.waitForStderr(/registered with/, 60_000));
      }
    }
    await Promise.all(agents);
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) await s.off.close();
    await procs.killAll();
    // Command jobs outlive a killed agent by design (their supervisor is detached): end them.
    try {
      execFileSync('pkill', ['-KILL', '-f', marker]);
    } catch {
      // nothing left
    }
    if (schema) await dropSchema(env.url, schema);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Job id → the runs recorded for it, in order. */
  const runs = (): Map<string, Array<{ attempt: number; agent: string }>> => {
    const out = new Map<string, Array<{ attempt: number; agent: string }>>();
    let text = '';
    try {
      text = readFileSync(runsFile, 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      const [id, attempt, agent] = line.split(' ');
      if (!id) continue;
      out.set(id, [...(out.get(id) ?? []), { attempt: Number(attempt), agent: agent! }]);
    }
    return out;
  };

  /** Submits `specs` in batches of `size`, round-robin over the servers. Returns the job ids in order. */
  const submitSpread = async (specs: JobSubmit[], size: number): Promise<string[]> => {
    const batches: JobSubmit[][] = [];
    for (let i = 0; i < specs.length; i += size) batches.push(specs.slice(i, i + size));
    const submitted = await Promise.all(
      batches.map((b, i) => servers[i % servers.length]!.off.submitBatch(b)),
    );
    return submitted.flat().map((j) => j.id);
  };

  /**
   * The counts by state once `total` jobs of this schema are terminal, asked of a live
   * server. Counts come from the database, so every server gives the same answer.
   */
  const allTerminal = async (off: Offload, total: number): Promise<Record<JobState, number>> => {
    for (;;) {
      const { counts } = await off.stats();
      if (TERMINAL.reduce((n, s) => n + counts[s], 0) >= total) return counts;
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  it('runs 10,000 task jobs submitted over three servers, each exactly once', async () => {
    const specs = Array.from({ length: NOOP_JOBS }, (_, i): JobSubmit => ({
      task: 'noop',
      input: { i },
      tags: { phase: 'noop' },
    }));
    const ids = await submitSpread(specs, BATCH);
    expect(new Set(ids).size).toBe(NOOP_JOBS);

    const counts = await allTerminal(servers[0]!.off, NOOP_JOBS);
    expect(counts).toMatchObject({ succeeded: NOOP_JOBS, failed: 0, canceled: 0, expired: 0 });

    const ran = runs();
    const twice = [...ran].filter(([, r]) => r.length !== 1);
    expect(twice, 'jobs that ran more than once').toEqual([]);
    expect(
      ids.filter((id) => !ran.has(id)),
      'jobs that never ran',
    ).toEqual([]);
    expect(ran.size).toBe(NOOP_JOBS);
    for (const r of ran.values()) expect(r[0]!.attempt).toBe(1);
    // Agents homed on every server took part.
    const byHome = new Set([...ran.values()].map((r) => homes.get(r[0]!.agent)));
    expect([...byHome].sort()).toEqual([0, 1, 2]);
  }, 180_000);

  it('kill -9 of one server mid-run: its agents fail over, every job finishes, none twice', async () => {
    const before = runs().size;
    const victim = 1;
    const spec = (i: number): JobSubmit => ({
      name: `kill-${i}`,
      command: [
        'sh',
        '-c',
        `echo "$OFFLOAD_JOB_ID $OFFLOAD_ATTEMPT $E2E_AGENT" >> "$E2E_RUNS_FILE"; sleep 3 # ${marker}`,
      ],
      // A third only the victim's agents may run: they must finish them after it dies.
      requires: { cpu: 0.1, ...(i % SERVERS === victim && { capabilities: [`home-${victim}`] }) },
      tags: { phase: 'kill' },
    });
    // A third to each server, so that the victim's agents are woken for some at once.
    const ids = await submitSpread(
      Array.from({ length: KILL_JOBS }, (_, i) => spec(i)),
      KILL_JOBS / SERVERS,
    );
    const mine = new Set(ids);

    // Mid-run: the victim's own agents are running some of these jobs.
    const victimsRunning = () =>
      [...runs()].some(([id, r]) => mine.has(id) && homes.get(r[0]!.agent) === victim);
    for (const deadline = Date.now() + 60_000; !victimsRunning();) {
      if (Date.now() > deadline) throw new Error(`no agent of server-${victim} started a job`);
      await new Promise((r) => setTimeout(r, 100));
    }
    servers[victim]!.proc.child.kill('SIGKILL');
    await servers[victim]!.proc.exited;
    const killedAt = Date.now();

    const survivor = servers[(victim + 1) % SERVERS]!;
    const counts = await allTerminal(survivor.off, NOOP_JOBS + KILL_JOBS);
    expect(counts).toMatchObject({
      succeeded: NOOP_JOBS + KILL_JOBS,
      failed: 0,
      canceled: 0,
      expired: 0,
    });

    const ran = runs();
    expect(ran.size).toBe(before + KILL_JOBS);
    const notOnce = ids.filter((id) => ran.get(id)?.length !== 1);
    expect(notOnce, 'jobs that did not run exactly once').toEqual([]);
    const jobs = await Promise.all(ids.map((id) => survivor.off.get(id)));
    for (const job of jobs) {
      // Succeeded, as attempt 1, on the agent that ran it.
      expect(job).toMatchObject({ state: 'succeeded', attempt: 1 });
      expect(job.agent?.name).toBe(ran.get(job.id)![0]!.agent);
    }
    // The victim's agents failed over: jobs they were running when it died were reported
    // through the other servers, and they are still online (heartbeating elsewhere), not
    // reaped as lost.
    const victimAgents = [...homes].filter(([, s]) => s === victim).map(([name]) => name);
    const victimOnly = jobs.filter((j) => j.requires.capabilities.includes(`home-${victim}`));
    expect(victimOnly.length).toBe(KILL_JOBS / SERVERS);
    for (const j of victimOnly) expect(victimAgents).toContain(j.agent?.name);
    const reportedElsewhere = jobs.filter(
      (j) =>
        victimAgents.includes(j.agent?.name ?? '') && Date.parse(String(j.finishedAt)) > killedAt,
    );
    expect(reportedElsewhere.length).toBeGreaterThan(0);
    for (const name of homes.keys())
      expect((await survivor.off.agents.get(name)).state, name).toBe('online');
  }, 180_000);
});
