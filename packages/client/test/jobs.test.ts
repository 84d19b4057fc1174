import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentClient,
  ApiErrorClasses,
  JobFailedError,
  Offload,
  OffloadApiError,
  OffloadTimeoutError,
  type ClaimedJob,
  type OffloadEvent,
} from '@offload/client';
import { startRealServer, type RealServer } from './real-server.js';

let srv: RealServer;
let off: Offload;
let agent: AgentClient;
let agentCount = 0;

/** An agent registered over the agent API, the way the agent daemon does it. */
async function registerAgent(): Promise<AgentClient> {
  const a = new AgentClient({ url: srv.url, token: await srv.joinToken() });
  const reg = await a.register({
    name: `agent-${++agentCount}`,
    capabilities: ['os:linux'],
    resources: { cpu: 64, memoryMb: 65_536, gpus: [] },
    maxJobs: 100,
  });
  expect(reg.secret).toMatch(/^offs_/);
  a.token = reg.secret;
  return a;
}

/** Claims the one job with this id (long-polling until it is handed out). */
async function claim(id: string): Promise<ClaimedJob> {
  for (let i = 0; i < 20; i++) {
    const res = await agent.sync({ max: 50, waitMs: 1_000 });
    const job = res.jobs.find((j) => j.id === id);
    if (job) return job;
  }
  throw new Error(`job ${id} was never claimed`);
}

beforeAll(async () => {
  srv = await startRealServer();
  off = new Offload({ url: srv.url, apiKey: srv.adminToken });
  agent = await registerAgent();
});
afterAll(async () => {
  await off.close();
  await agent.close();
  await srv.close();
});

describe('submit, get, batch', () => {
  it('submits a job and reads it back', async () => {
    const job = await off.submit({ command: ['echo', 'hi'], name: 'greet', tags: { t: 'get' } });
    expect(job).toMatchObject({ name: 'greet', kind: 'command', state: 'queued', attempt: 1 });
    expect(await off.get(job.id)).toMatchObject({ id: job.id, tags: { t: 'get' } });
  });

  it('returns the first job for a repeated idempotencyKey', async () => {
    const a = await off.submit({ command: 'true', idempotencyKey: 'idem-1' });
    const b = await off.submit({ command: 'true', idempotencyKey: 'idem-1' });
    expect(b.id).toBe(a.id);
  });

  it('submits a batch in order', async () => {
    const jobs = await off.submitBatch([
      { command: ['a'], name: 'first' },
      { task: 'thumb', input: { n: 1 }, name: 'second' },
      { command: ['c'], name: 'third' },
    ]);
    expect(jobs.map((j) => j.name)).toEqual(['first', 'second', 'third']);
    expect(jobs[1]).toMatchObject({ kind: 'task', task: 'thumb', input: { n: 1 } });
  });

  it('holds a submit with wait and returns the job still queued (202)', async () => {
    const job = await off.submit({ command: 'true', queue: 'held' }, { wait: 0.2 });
    expect(job.state).toBe('queued');
  });
});

describe('list', () => {
  it('iterates over every page following nextCursor, newest first', async () => {
    const specs = Array.from({ length: 7 }, (_, i) => ({
      command: ['true'],
      name: `page-${i}`,
      tags: { batch: 'paging' },
    }));
    const submitted = await off.submitBatch(specs);
    const seen: string[] = [];
    for await (const job of off.list({ tag: 'batch:paging', limit: 3 })) seen.push(job.id);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(submitted.map((j) => j.id)));

    const first = await off.listPage({ tag: 'batch:paging', limit: 3 });
    expect(first.jobs).toHaveLength(3);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await off.listPage({
      tag: 'batch:paging',
      limit: 3,
      cursor: first.nextCursor ?? '',
    });
    expect(second.jobs.map((j) => j.id)).toEqual(seen.slice(3, 6));
    const last = await off.listPage({ tag: 'batch:paging', limit: 10 });
    expect(last.nextCursor).toBeNull();
  });

  it('stops fetching when the loop breaks', async () => {
    let n = 0;
    for await (const _job of off.list({ tag: 'batch:paging', limit: 2 })) if (++n === 3) break;
    expect(n).toBe(3);
  });
});

describe('wait and run (with an agent over the agent API)', () => {
  it('run resolves with the succeeded job', async () => {
    const running = off.run({ command: ['echo', 'ok'], name: 'run-ok' });
    const job = await claimByName('run-ok');
    const completed = await agent.complete(job.id, {
      leaseId: job.leaseId,
      outcome: 'succeeded',
      exitCode: 0,
      usage: { wallSec: 0.01 },
    });
    expect(completed.state).toBe('succeeded');
    const done = await running;
    expect(done).toMatchObject({ id: job.id, state: 'succeeded', exitCode: 0 });
  });

  it('run throws JobFailedError carrying the failed job', async () => {
    const running = off.run({ command: ['sh', '-c', 'exit 3'], name: 'run-fail' });
    const outcome = running.catch((err: unknown) => err);
    const job = await claimByName('run-fail');
    await agent.sync({
      max: 0,
      waitMs: 0,
      completions: [
        {
          jobId: job.id,
          leaseId: job.leaseId,
          outcome: 'failed',
          exitCode: 3,
          error: { code: 'EXIT_NONZERO', message: 'exited with 3' },
        },
      ],
    });
    const err = await outcome;
    expect(err).toBeInstanceOf(JobFailedError);
    const failed = err as JobFailedError;
    expect(failed.job).toMatchObject({ id: job.id, state: 'failed', exitCode: 3 });
    expect(failed.code).toBe('EXIT_NONZERO');
    expect(failed.message).toContain('EXIT_NONZERO');
  });

  it('run throws JobFailedError for a canceled job', async () => {
    const queued = await off.submit({ command: 'true', queue: 'parked' });
    await off.queues.pause('parked');
    const created = off.events({ queue: 'parked', types: ['job.created'] });
    await created.connect();
    const running = off.run({ command: 'true', queue: 'parked', name: 'run-cancel' });
    const outcome = running.catch((err: unknown) => err);
    const ev = (await created.next()).value as OffloadEvent;
    await created.close();
    expect('job' in ev && ev.job.name).toBe('run-cancel');
    await off.cancel('job' in ev ? ev.job.id : '');
    const err = await outcome;
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).job.state).toBe('canceled');
    await off.cancel(queued.id);
  });

  it('wait loops until terminal and throws OffloadTimeoutError with the job on timeout', async () => {
    const job = await off.submit({ command: 'true', queue: 'never' });
    await off.queues.pause('never');
    const start = Date.now();
    const err = await off.wait(job.id, { timeoutSec: 0.3 }).catch((e: unknown) => e);
    expect(Date.now() - start).toBeGreaterThanOrEqual(250);
    expect(err).toBeInstanceOf(OffloadTimeoutError);
    expect((err as OffloadTimeoutError).job?.state).toBe('queued');

    const waiting = off.wait(job.id, { timeoutSec: 10 });
    await off.cancel(job.id);
    expect((await waiting).state).toBe('canceled');
  });
});

describe('cancel and retry', () => {
  it('cancels a queued job, refuses a second cancel with INVALID_STATE, retries it', async () => {
    const job = await off.submit({ command: 'true', queue: 'cr' });
    await off.queues.pause('cr');
    const canceled = await off.cancel(job.id);
    expect(canceled.state).toBe('canceled');

    const err = await off.cancel(job.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.INVALID_STATE);
    expect(err).toMatchObject({ code: 'INVALID_STATE', status: 409 });

    const again = await off.retry(job.id);
    expect(again).toMatchObject({ id: job.id, state: 'queued' });
  });

  it('cancel of a running job returns it still running with cancelRequested', async () => {
    const job = await off.submit({ command: 'sleep 100', name: 'to-cancel' });
    const claimed = await claim(job.id);
    const res = await off.cancel(job.id);
    expect(res).toMatchObject({ state: 'running', cancelRequested: true });
    const hb = await agent.heartbeat({ leases: [claimed.leaseId] });
    expect(hb.cancel).toContain(claimed.leaseId);
    await agent.complete(job.id, {
      leaseId: claimed.leaseId,
      outcome: 'failed',
      error: { code: 'CANCELED', message: 'canceled' },
    });
    expect((await off.wait(job.id)).state).toBe('canceled');
  });
});

describe('attempts', () => {
  it('lists a failed attempt and the running retry, each with its agent', async () => {
    const job = await off.submit({
      command: 'true',
      name: 'two-tries',
      maxAttempts: 2,
      backoff: { type: 'fixed', delaySec: 0 },
    });
    expect(await off.attempts(job.id)).toEqual([]);
    const first = await claim(job.id);
    await agent.complete(job.id, {
      leaseId: first.leaseId,
      outcome: 'failed',
      exitCode: 1,
      error: { code: 'EXIT_NONZERO', message: 'exited with 1' },
    });
    // The test server runs no timers: promote the retry (backoff 0) by hand.
    expect((await off.get(job.id)).state).toBe('scheduled');
    await srv.app.offload.maintenance.dueNow();
    await claim(job.id);
    const attempts = await off.attempts(job.id);
    expect(attempts.map((a) => [a.attempt, a.agent.name, a.outcome])).toEqual([
      [1, 'agent-1', 'failed'],
      [2, 'agent-1', 'running'],
    ]);
    expect(attempts[0]).toMatchObject({ exitCode: 1, error: { code: 'EXIT_NONZERO' } });
    expect(attempts[0]?.endedAt).toEqual(expect.any(String));
    await expect(off.attempts('job_nope')).rejects.toBeInstanceOf(ApiErrorClasses.JOB_NOT_FOUND);
  });
});

describe('logs', () => {
  it('returns the output as text, and follows it live until the job ends', async () => {
    const job = await off.submit({ command: 'render', name: 'logs-job' });
    const claimed = await claim(job.id);
    const lease = { jobId: job.id, leaseId: claimed.leaseId };
    await agent.reportLogs({ logs: [{ ...lease, stream: 'stdout', data: 'one\n' }] });

    const follow = off.logs(job.id, { follow: true });
    const chunks: { stream: string; data: string }[] = [];
    const reading = (async () => {
      for await (const c of follow) {
        chunks.push(c);
        if (chunks.length === 1) {
          await agent.reportLogs({
            logs: [
              { ...lease, stream: 'stderr', data: 'warn: two\n' },
              { ...lease, stream: 'stdout', data: 'multi\nline\n' },
            ],
            progress: [{ ...lease, percent: 50, stage: 'half' }],
          });
        }
        if (chunks.length === 3) {
          await agent.complete(job.id, {
            leaseId: claimed.leaseId,
            outcome: 'succeeded',
            exitCode: 0,
          });
        }
      }
    })();
    await reading;
    expect(chunks).toEqual([
      { stream: 'stdout', data: 'one\n' },
      { stream: 'stderr', data: 'warn: two\n' },
      { stream: 'stdout', data: 'multi\nline\n' },
    ]);
    expect(follow.job).toMatchObject({ id: job.id, state: 'succeeded', exitCode: 0 });
    expect(await off.logs(job.id)).toBe('one\nwarn: two\nmulti\nline\n');
    expect(await off.logs(job.id, { follow: false })).toContain('warn: two');
  });

  it('follow of a finished job yields its output and ends', async () => {
    const job = await off.submit({ command: 'x', name: 'done-logs' });
    const claimed = await claim(job.id);
    await agent.reportLogs({
      logs: [{ jobId: job.id, leaseId: claimed.leaseId, stream: 'stdout', data: 'all\n' }],
    });
    await agent.complete(job.id, { leaseId: claimed.leaseId, outcome: 'succeeded', exitCode: 0 });
    const got: string[] = [];
    for await (const c of off.logs(job.id, { follow: true })) got.push(c.data);
    expect(got).toEqual(['all\n']);
  });

  it('throws JOB_NOT_FOUND from a follow of a job that does not exist', async () => {
    const follow = off.logs('job_nope', { follow: true });
    await expect(follow.next()).rejects.toBeInstanceOf(ApiErrorClasses.JOB_NOT_FOUND);
  });
});

describe('events', () => {
  it('streams a job through its states and closes when the loop breaks', async () => {
    const job = await off.submit({ command: 'true', queue: 'ev', name: 'ev-job' });
    const events = off.events({ jobId: job.id });
    await events.connect();
    const seen: OffloadEvent[] = [];
    const reading = (async () => {
      for await (const ev of events) {
        seen.push(ev);
        if (ev.type === 'job.succeeded') break;
      }
    })();
    const claimed = await claim(job.id);
    await agent.complete(job.id, { leaseId: claimed.leaseId, outcome: 'succeeded', exitCode: 0 });
    await reading;
    expect(seen.map((e) => e.type)).toEqual(['job.started', 'job.succeeded']);
    const last = seen[1]!;
    expect('job' in last && last.job).toMatchObject({ id: job.id, state: 'succeeded' });
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });

  it('filters by type and yields agent events', async () => {
    const events = off.events({ types: ['agent.*'] });
    await events.connect();
    const other = await registerAgent();
    const first = await events.next();
    await events.close();
    expect(first.done).toBe(false);
    const ev = first.value as OffloadEvent;
    expect(ev.type).toBe('agent.online');
    expect('agent' in ev && ev.agent.name).toBe(`agent-${agentCount}`);
    await other.close();
  });

  it('ends the iteration when its signal aborts', async () => {
    const ac = new AbortController();
    const events = off.events({ queue: 'quiet', signal: ac.signal });
    await events.connect();
    const pending = events.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('refuses an unknown type with VALIDATION_FAILED', async () => {
    const events = off.events({ types: ['job.nope'] });
    const err = await events.connect().catch((e: unknown) => e);
    expect(OffloadApiError.is(err, 'VALIDATION_FAILED')).toBe(true);
  });
});

describe('agent protocol client', () => {
  it('heartbeats, and gets LEASE_STALE for a report on a lease that is gone', async () => {
    const hb = await agent.heartbeat({ leases: ['lease_gone'] });
    expect(hb).toMatchObject({ stale: ['lease_gone'], drain: false, leaseTimeoutMs: 5_000 });

    const job = await off.submit({ command: 'true', name: 'stale' });
    const claimed = await claim(job.id);
    await agent.complete(job.id, { leaseId: claimed.leaseId, outcome: 'succeeded', exitCode: 0 });
    const err = await agent
      .complete(job.id, { leaseId: claimed.leaseId, outcome: 'succeeded', exitCode: 0 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.LEASE_STALE);
    expect(err).toMatchObject({ status: 409, name: 'LeaseStaleError' });
    const logs = await agent.reportLogs({
      logs: [{ jobId: job.id, leaseId: claimed.leaseId, stream: 'stdout', data: 'late' }],
    });
    expect(logs.stale).toEqual([claimed.leaseId]);
  });

  it('re-registers with its own secret and refuses a taken name', async () => {
    const again = await agent.register({
      name: 'agent-1',
      capabilities: ['os:linux'],
      resources: { cpu: 64, memoryMb: 65_536, gpus: [] },
      maxJobs: 100,
    });
    expect(again.secret).toBeUndefined();
    const other = new AgentClient({ url: srv.url, token: await srv.joinToken() });
    const err = await other
      .register({
        name: 'agent-1',
        capabilities: [],
        resources: { cpu: 1, memoryMb: 1, gpus: [] },
        maxJobs: 1,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiErrorClasses.AGENT_NAME_TAKEN);
    await other.close();
  });
});

/** Claims the job submitted under this name once it shows up. */
async function claimByName(name: string): Promise<ClaimedJob> {
  for (let i = 0; i < 20; i++) {
    const res = await agent.sync({ max: 50, waitMs: 1_000 });
    const job = res.jobs.find((j) => j.name === name);
    if (job) return job;
  }
  throw new Error(`job ${name} was never claimed`);
}
