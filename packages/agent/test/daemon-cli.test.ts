import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, CliProcesses } from '../../cli/test/cli-process.js';
import { readRunningRecords } from '../src/daemon/agent-state.js';
import { startDaemonTestServer, type DaemonTestServer } from './daemon-server.js';
import { createSandbox, expectNoLeaks, HAS_PROC, processesWith, waitFor } from './helpers.js';

/** `offload agent` as a real process (the built dist/), against a real server. */
let box: ReturnType<typeof createSandbox>;
let server: DaemonTestServer;
const procs = new CliProcesses();

beforeEach(async () => {
  assertBuilt();
  box = createSandbox();
  server = await startDaemonTestServer();
});

afterEach(async () => {
  await procs.killAll();
  await server.close();
  await expectNoLeaks(box.token, 12_000);
  box.cleanup();
});

const agentArgs = (extra: string[] = []) => [
  'agent',
  '--server',
  server.url,
  '--name',
  `cli-${box.token}`,
  '--state-dir',
  box.stateDir,
  '--max-jobs',
  '2',
  ...extra,
];

const cmd = (command: string) => ({ command, env: { OFFLOAD_TEST_SANDBOX: box.token } });

describe.skipIf(!HAS_PROC)('offload agent (subprocess)', () => {
  it('a refused join token: one line on stderr, exit 125', async () => {
    const p = procs.run(agentArgs(['--join', 'offj_not_a_real_token']));
    const exit = await p.waitForExit();
    expect(exit.code).toBe(125);
    const lines = p.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/refused.*join token/);
  });

  it('an unreadable --tasks module: the path and the reason, exit 125', async () => {
    const missing = join(box.root, 'no-such-tasks.mjs');
    const p = procs.run(agentArgs(['--join', 'x', '--tasks', missing]));
    const exit = await p.waitForExit();
    expect(exit.code).toBe(125);
    expect(p.stderr).toContain(missing);
    expect(p.stderr).toMatch(/not found/);
  });

  it('SIGTERM with a running job hands it back (queued, same attempt) and exits 0', async () => {
    const p = procs.run(
      agentArgs(['--join', await server.joinToken(), '--drain-timeout', '300ms']),
    );
    await p.waitForStderr(/registered/);
    const job = await server.submit(cmd('sleep 1000'));
    await server.waitState(job.id, 'running');
    p.child.kill('SIGTERM');
    const exit = await p.waitForExit();
    expect(exit.code).toBe(0);
    const after = await server.get(job.id);
    expect(after.state).toBe('queued');
    expect(after.attempt).toBe(1);
  });

  it('kill -9 mid-job, restart with the same state dir: the job is re-attached and reported once', async () => {
    const join1 = await server.joinToken();
    const first = procs.run(agentArgs(['--join', join1]));
    await first.waitForStderr(/registered/);
    const job = await server.submit(cmd('sleep 1.5; echo finished-once'));
    await server.waitState(job.id, 'running');
    await waitFor(() => readRunningRecords(box.stateDir).length > 0, 5000);
    // The command runs (under its supervisor) before the agent is killed.
    await waitFor(() => processesWith(box.token).some((p) => p.cmd.startsWith('sleep')), 5000);
    first.child.kill('SIGKILL');
    await first.waitForExit();

    // No join token this time: the stored credential registers it again.
    const second = procs.run(agentArgs());
    await second.waitForStderr(/re-attached to job/);
    const done = await server.wait(job.id);
    expect(done.state).toBe('succeeded');
    expect(done.attempt).toBe(1);
    const logs = await server.logs(job.id);
    expect(logs.split('finished-once').length - 1).toBe(1);
    second.child.kill('SIGTERM');
    expect((await second.waitForExit()).code).toBe(0);
  });

  it('restart after the lease was taken back: the stale attempt is killed and not reported', async () => {
    await server.close();
    server = await startDaemonTestServer(1000, { maintenance: true });
    const first = procs.run(agentArgs(['--join', await server.joinToken()]));
    await first.waitForStderr(/registered/);
    const job = await server.submit(cmd('sleep 1000'));
    await server.waitState(job.id, 'running');
    await waitFor(() => readRunningRecords(box.stateDir).length > 0, 5000);
    // The command runs (under its supervisor) before the agent is killed.
    await waitFor(() => processesWith(box.token).some((p) => p.cmd.startsWith('sleep')), 5000);
    first.child.kill('SIGKILL');
    await first.waitForExit();
    const lost = await server.waitState(job.id, 'failed', 20_000);
    expect(lost.error?.code).toBe('AGENT_LOST');
    expect(processesWith(box.token).some((p) => p.cmd.startsWith('sleep'))).toBe(true);

    const second = procs.run(agentArgs());
    await second.waitForStderr(/no longer current/);
    await waitFor(() => !processesWith(box.token).some((p) => p.cmd.startsWith('sleep')), 15_000);
    await waitFor(
      () => readRunningRecords(box.stateDir).length === 0,
      5000,
      'the running record gone',
    );
    const after = await server.get(job.id);
    expect(after.state).toBe('failed');
    expect(after.error?.code).toBe('AGENT_LOST');
    second.child.kill('SIGTERM');
    expect((await second.waitForExit()).code).toBe(0);
  });

  it('a revoked agent stops with a clear message and exit 125', async () => {
    const p = procs.run(agentArgs(['--join', await server.joinToken()]));
    const [, id] = await p.waitForStderr(/\((agt_[^)]+)\) registered/);
    const res = await fetch(`${server.url}/api/v1/agents/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(res.status).toBeLessThan(300);
    const exit = await p.waitForExit();
    expect(exit.code).toBe(125);
    expect(p.stderr).toMatch(/refused this agent/);
  });
});
