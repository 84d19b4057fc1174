import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Agent, AgentOptions } from '../src/daemon/agent-api.js';
import { createAgent } from '../src/daemon/agent-daemon.js';
import { readRunningRecords } from '../src/daemon/agent-state.js';
import { readOutbox } from '../src/daemon/outbox.js';
import { startDaemonTestServer, type DaemonTestServer } from './daemon-server.js';
import { createSandbox, expectNoLeaks, HAS_PROC, processesWith, waitFor } from './helpers.js';

let box: ReturnType<typeof createSandbox>;
let server: DaemonTestServer;
const agents: Agent[] = [];

beforeEach(async () => {
  box = createSandbox();
  server = await startDaemonTestServer();
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop({ drainMs: 0 })));
  await server.close();
  await expectNoLeaks(box.token);
  box.cleanup();
});

async function startAgent(extra: Partial<AgentOptions> = {}): Promise<Agent> {
  const agent = createAgent({
    servers: [server.url],
    joinToken: await server.joinToken(),
    name: `agent-${box.token}`,
    stateDir: box.stateDir,
    maxJobs: 4,
    killGraceMs: 2000,
    reconnectBaseMs: 50,
    reconnectMaxMs: 300,
    resources: { gpus: [] },
    log: () => undefined,
    ...extra,
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

/** Commands carry the sandbox token in their environment, so the leak check finds them. */
const cmd = (command: string, extra: Record<string, unknown> = {}) => ({
  command,
  env: { OFFLOAD_TEST_SANDBOX: box.token },
  ...extra,
});

describe.skipIf(!HAS_PROC)('agent daemon (in-process, real server)', () => {
  it('registers, keeps its credential 0600, runs a failing command with its output in the logs', async () => {
    const agent = await startAgent();
    expect(agent.id).toMatch(/\S/);
    const identity = join(box.stateDir, 'agent.json');
    expect(statSync(identity).mode & 0o777).toBe(0o600);

    const job = await server.submit(cmd('echo out; echo err >&2; exit 3'));
    const done = await server.wait(job.id);
    expect(done.state).toBe('failed');
    expect(done.exitCode).toBe(3);
    const logs = await server.logs(job.id);
    expect(logs).toContain('out');
    expect(logs).toContain('err');
  });

  it("removes a finished command's job directory after a while, and leftovers at start", async () => {
    const jobsDir = join(box.stateDir, 'jobs');
    // A directory left by an attempt that ended before this start (no running record names it).
    mkdirSync(join(jobsDir, 'job_leftover-1'), { recursive: true });
    const agent = await startAgent({ jobDirKeepMs: 200 });
    await waitFor(() => !existsSync(join(jobsDir, 'job_leftover-1')), 10_000);

    const job = await server.submit(cmd('echo kept for a while; sleep 2'));
    const dir = join(jobsDir, `${job.id}-1`);
    await waitFor(() => existsSync(join(dir, 'spec.json')), 10_000); // while it runs
    expect((await server.wait(job.id)).state).toBe('succeeded');
    await waitFor(() => !existsSync(dir), 10_000);
    expect(await server.logs(job.id)).toContain('kept for a while');
    // Nor is its running record left (a restart would re-adopt and re-report it).
    await waitFor(() => readRunningRecords(box.stateDir).length === 0, 5000);
    await agent.stop();
  });

  it('a short silent command leaves no job directory: the agent releases its records', async () => {
    await startAgent(); // job directories kept 30 s after their end
    const job = await server.submit(cmd('true'));
    expect((await server.wait(job.id)).state).toBe('succeeded');
    // Past the host's RECORD_DELAY_MS (1 s): unreleased, its records would be there now.
    await new Promise((r) => setTimeout(r, 1500));
    expect(existsSync(join(box.stateDir, 'jobs', `${job.id}-1`))).toBe(false);
  });

  it('runs a task job and returns its result', async () => {
    await startAgent({
      tasks: { add: (input: { a: number; b: number }) => ({ sum: input.a + input.b }) },
    });
    const job = await server.submit({ task: 'add', input: { a: 2, b: 3 } });
    const done = await server.wait(job.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toEqual({ sum: 5 });
  });

  it('a queue of short tasks: each runs once, within maxJobs, its output shipped before its result', async () => {
    // Claims are pipelined (the next sync goes out while a batch runs): this is what must hold.
    const jobs = [];
    for (let i = 0; i < 120; i++)
      jobs.push(await server.submit({ task: 'step', input: { i }, timeoutSec: 60 }));
    let running = 0;
    let most = 0;
    const runs = new Map<number, number>();
    await startAgent({
      maxJobs: 8,
      tasks: {
        step: async (input: { i: number }, ctx) => {
          runs.set(input.i, (runs.get(input.i) ?? 0) + 1);
          most = Math.max(most, ++running);
          if (input.i % 10 === 0) ctx.log(`line of ${input.i}`);
          await new Promise((r) => setImmediate(r));
          running--;
          return input.i * 2;
        },
      },
    });
    for (const [i, job] of jobs.entries()) {
      const done = await server.wait(job.id);
      expect(done).toMatchObject({ state: 'succeeded', result: i * 2, attempt: 1 });
      if (i % 10 === 0) expect(await server.logs(job.id)).toContain(`line of ${i}`);
    }
    expect(runs.size).toBe(120);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(most).toBeLessThanOrEqual(8);
  });

  it('starts a job submitted to an idle agent at once (the parked sync is released)', async () => {
    await startAgent({ syncWaitMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200)); // the agent's sync is parked now
    const t0 = performance.now();
    const job = await server.submit(cmd('true'));
    const done = await server.wait(job.id);
    expect(done.state).toBe('succeeded');
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('one slot, jobs one at a time: each completion goes on the held sync that takes the next', async () => {
    // A proxy in front of the server counts the agent's syncs.
    let syncs = 0;
    const proxy = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/agent/sync')) syncs++;
      const up = request(
        `${server.url}${req.url}`,
        { method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const { port } = proxy.address() as AddressInfo;
      await startAgent({ servers: [`http://127.0.0.1:${port}`], maxJobs: 1, syncWaitMs: 20_000 });
      await waitFor(() => syncs >= 1); // parked
      const jobs = 5;
      for (let i = 0; i < jobs; i++) {
        const job = await server.submit(cmd('true'));
        expect((await server.wait(job.id)).state).toBe('succeeded');
      }
      // One sync per job: it returns the job, and the next carries the completion and parks.
      // Asking without a hold after each (full) one-slot claim made it two.
      expect(syncs).toBeLessThanOrEqual(jobs + 2);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('cancel kills the whole process group and the job ends canceled', async () => {
    const agent = await startAgent();
    const job = await server.submit(cmd('sleep 1000 & sleep 1000; wait'));
    await server.waitState(job.id, 'running');
    await waitFor(() => processesWith(box.token).some((p) => p.cmd.startsWith('sleep')), 5000);
    await server.cancel(job.id);
    const done = await server.wait(job.id);
    expect(done.state).toBe('canceled');
    expect(processesWith(box.token).filter((p) => p.cmd.startsWith('sleep'))).toEqual([]);
    await waitFor(() => agent.running().length === 0, 5000);
  });

  it('gives two 1-GPU jobs different CUDA_VISIBLE_DEVICES', async () => {
    const bin = join(box.root, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'nvidia-smi'),
      '#!/bin/sh\necho "0, Fake GPU, 16000"\necho "1, Fake GPU, 16000"\n',
    );
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
    const a = await server.submit(
      cmd('echo gpu=$CUDA_VISIBLE_DEVICES; sleep 0.5', { requires: { gpus: 1 } }),
    );
    const b = await server.submit(
      cmd('echo gpu=$CUDA_VISIBLE_DEVICES; sleep 0.5', { requires: { gpus: 1 } }),
    );
    await startAgent({
      resources: {},
      nvidiaSmi: { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } },
    });
    const [da, db] = await Promise.all([server.wait(a.id), server.wait(b.id)]);
    expect(da.state).toBe('succeeded');
    expect(db.state).toBe('succeeded');
    const ga = /gpu=(\d)/.exec(await server.logs(a.id))?.[1];
    const gb = /gpu=(\d)/.exec(await server.logs(b.id))?.[1];
    expect(ga).toBeDefined();
    expect(gb).toBeDefined();
    expect(ga).not.toBe(gb);
  });

  it('keeps a report in the outbox while the server is down and sends it after', async () => {
    await startAgent();
    const job = await server.submit(cmd('sleep 1; echo finished'));
    await server.waitState(job.id, 'running');
    await server.stopApp();
    await waitFor(
      () => readOutbox(box.stateDir).some((c) => c.jobId === job.id),
      10_000,
      'the completion in the outbox',
    );
    await server.startApp();
    const done = await server.wait(job.id);
    expect(done.state).toBe('succeeded');
    expect(done.attempt).toBe(1);
    await waitFor(() => readOutbox(box.stateDir).length === 0, 10_000, 'an empty outbox');
  });

  it('a taken name: a clear error naming the name and --name', async () => {
    await startAgent({ name: `taken-${box.token}` });
    const other = createAgent({
      servers: [server.url],
      joinToken: await server.joinToken(),
      name: `taken-${box.token}`,
      stateDir: join(box.root, 'other-state'),
      resources: { gpus: [] },
      log: () => undefined,
    });
    agents.push(other);
    await expect(other.start()).rejects.toMatchObject({
      code: 'NAME_TAKEN',
      message: expect.stringMatching(new RegExp(`taken-${box.token}.*--name`)) as unknown,
    });
  });

  it('fails over from a dead server URL to the next one', async () => {
    const dead = await new Promise<string>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    await startAgent({ servers: [dead, server.url] });
    const job = await server.submit(cmd('echo via-failover'));
    expect((await server.wait(job.id)).state).toBe('succeeded');
  });

  it('stop() waits for a short job, then hands back a long one', async () => {
    const agent = await startAgent();
    const short = await server.submit(cmd('sleep 0.3'));
    const long = await server.submit(cmd('sleep 1000'));
    await server.waitState(short.id, 'running');
    await server.waitState(long.id, 'running');
    agents.splice(agents.indexOf(agent), 1);
    await agent.stop({ drainMs: 1500 });
    expect((await server.get(short.id)).state).toBe('succeeded');
    const back = await server.get(long.id);
    expect(back.state).toBe('queued');
    expect(back.attempt).toBe(1);
  });

  it('ships ::progress lines as the job progress', async () => {
    await startAgent();
    const job = await server.submit(cmd('echo "::progress 40 encoding"; sleep 0.5'));
    const done = await server.wait(job.id);
    expect(done.state).toBe('succeeded');
    expect(done.progress?.stage).toBe('encoding');
  });

  it('an admin drain stops it taking work; resume lets it take work again', async () => {
    const agent = await startAgent();
    expect(await server.post(`/api/v1/agents/${agent.id}/drain`)).toBe(200);
    const job = await server.submit(cmd('true'));
    await new Promise((r) => setTimeout(r, 500));
    expect((await server.get(job.id)).state).toBe('queued');
    expect(await server.post(`/api/v1/agents/${agent.id}/resume`)).toBe(200);
    expect((await server.wait(job.id)).state).toBe('succeeded');
  });

  it('with a long lease, a resume and a freed CPU reach the parked agent at once', async () => {
    // Heartbeats every 20 s and long polls of up to 30 s: without a wake-up from the server,
    // each step below would wait that long, beyond the 8 s allowed.
    const slow = await startDaemonTestServer(60_000);
    try {
      const agent = createAgent({
        servers: [slow.url],
        joinToken: await slow.joinToken(),
        name: `slow-${box.token}`,
        stateDir: join(box.root, 'slow-state'),
        maxJobs: 4,
        resources: { cpu: 2, gpus: [] },
        log: () => undefined,
      });
      agents.push(agent);
      await agent.start();
      expect(await slow.post(`/api/v1/agents/${agent.id}/drain`)).toBe(200);
      const first = await slow.submit(cmd('sleep 0.5', { requires: { cpu: 1 } }));
      const second = await slow.submit(cmd('sleep 30', { requires: { cpu: 1 } }));
      await new Promise((r) => setTimeout(r, 300));
      expect(await slow.post(`/api/v1/agents/${agent.id}/resume`)).toBe(200);
      await slow.waitState(first.id, 'running', 8_000);
      // Both CPUs taken, two job slots free: the agent parks a sync for 2 more jobs.
      const third = await slow.submit(cmd('true', { requires: { cpu: 1 } }));
      expect((await slow.wait(first.id, 8)).state).toBe('succeeded');
      expect((await slow.wait(third.id, 8)).state).toBe('succeeded');
      await slow.cancel(second.id);
      expect((await slow.wait(second.id, 8)).state).toBe('canceled');
    } finally {
      await Promise.all(agents.splice(0).map((a) => a.stop({ drainMs: 0 })));
      await slow.close();
    }
  });

  it('takes no work while the CPU load guard says the machine is busy', async () => {
    let busy = true;
    await startAgent({
      cpuLoadGuard: {
        loadPercent: () => (busy ? 95 : 5),
        mayTakeWork: () => !busy,
        sample: () => undefined,
        close: () => undefined,
      },
    });
    const job = await server.submit(cmd('true'));
    await new Promise((r) => setTimeout(r, 700));
    expect((await server.get(job.id)).state).toBe('queued');
    busy = false;
    expect((await server.wait(job.id)).state).toBe('succeeded');
  });

  it('fails over to the second server when the first goes away mid-run', async () => {
    const second = await server.secondApp();
    await startAgent({ servers: [server.url, second.url] });
    const first = await server.submit(cmd('echo one'));
    expect((await server.wait(first.id)).state).toBe('succeeded');
    await server.stopApp();
    const res = await fetch(`${second.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(cmd('echo two')),
    });
    const job = (await res.json()) as { id: string };
    const done = await fetch(`${second.url}/api/v1/jobs/${job.id}/wait?timeoutSec=20`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(((await done.json()) as { state: string }).state).toBe('succeeded');
  });
});
