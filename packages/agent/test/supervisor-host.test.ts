import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createCommandExecutor, isSameProcess, type CommandRun } from '../src/index.js';
import { readSupervisorInfo } from '../src/supervisor/supervisor-launcher.js';
import {
  HAS_PROC,
  createSandbox,
  expectNoLeaks,
  groupMembers,
  recorder,
  waitFor,
} from './helpers.js';

const box = createSandbox();
afterEach(() => expectNoLeaks(box.token));
afterAll(() => box.cleanup());

const hostInfo = (stateDir: string) =>
  JSON.parse(readFileSync(join(stateDir, 'supervisor-host.json'), 'utf8')) as {
    pid: number;
    startTime: number;
  };

describe.runIf(HAS_PROC)('the shared supervisor host', () => {
  it('one host supervises many concurrent jobs, each with its own status and output', async () => {
    const stateDir = join(box.root, 'many');
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300 });
    const recs = Array.from({ length: 20 }, () => recorder());
    const runs = await Promise.all(
      recs.map((rec, i) => exec.start(box.job({ command: `echo job-${i}; exit ${i}` }), rec)),
    );
    const outcomes = await Promise.all(runs.map((r) => r.done));
    outcomes.forEach((o, i) => {
      expect(o.exitCode).toBe(i);
      expect(recs[i]!.text()).toBe(`job-${i}\n`);
    });
    const host = hostInfo(stateDir);
    for (const r of runs) {
      const info = readSupervisorInfo(r.jobDir)!;
      expect(info.supervisorPid).toBe(host.pid);
      expect(info.hostSocket).toBe(join(stateDir, 'supervisor.sock'));
    }
    exec.close();
  });

  it('exits once its jobs have ended and no agent is connected', async () => {
    const stateDir = join(box.root, 'idle');
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300 });
    const run = await exec.start(box.job({ command: 'sleep 0.3' }));
    const host = hostInfo(stateDir);
    exec.close();
    // No agent, but a job: the host stays for it.
    expect(isSameProcess(host.pid, host.startTime)).toBe(true);
    await run.done;
    await waitFor(() => !isSameProcess(host.pid, host.startTime), 10_000, 'the idle host to exit');
    expect(existsSync(join(stateDir, 'supervisor.sock'))).toBe(false);
  });

  it('a job with nice gets a supervisor of its own; per-job mode gives every job one', async () => {
    const stateDir = join(box.root, 'nice');
    const shared = createCommandExecutor({ stateDir, killGraceMs: 300 });
    const plain = await shared.start(box.job({ command: 'true' }));
    const niced = await shared.start(box.job({ command: 'true', nice: 5 }));
    await Promise.all([plain.done, niced.done]);
    const host = hostInfo(stateDir).pid;
    expect(readSupervisorInfo(plain.jobDir)!.supervisorPid).toBe(host);
    expect(readSupervisorInfo(niced.jobDir)!.supervisorPid).not.toBe(host);
    expect(readSupervisorInfo(niced.jobDir)!.hostSocket).toBeUndefined();
    shared.close();

    const perJob = createCommandExecutor({
      stateDir: join(box.root, 'per-job'),
      killGraceMs: 300,
      supervisor: 'per-job',
    });
    const rec = recorder();
    const runs: CommandRun[] = [];
    runs.push(await perJob.start(box.job({ command: 'echo one; exit 4' }), rec));
    runs.push(await perJob.start(box.job({ command: 'sleep 1000 & sleep 1000; wait' })));
    expect((await runs[0]!.done).exitCode).toBe(4);
    expect(rec.text()).toBe('one\n');
    const pid = runs[1]!.pid!;
    await waitFor(() => groupMembers(pid).length === 3, 5000, 'the tree');
    runs[1]!.cancel();
    expect((await runs[1]!.done).error?.code).toBe('CANCELED');
    expect(groupMembers(pid)).toEqual([]);
    const [a, b] = runs.map((r) => readSupervisorInfo(r.jobDir)!.supervisorPid);
    expect(a).not.toBe(b);
    perJob.close();
  });
});
