import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createCommandExecutor, isSameProcess, type CommandRun } from '../src/index.js';
import { bootId, readProcStat } from '../src/supervisor/proc.js';
import {
  readExitInfo,
  readSpec,
  readSupervisorInfo,
} from '../src/supervisor/supervisor-launcher.js';
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
      // Written just after the exit event for jobs this short.
      const info = await waitFor(() => readSupervisorInfo(r.jobDir), 5000, 'supervisor.json');
      expect(info.supervisorPid).toBe(host.pid);
      expect(info.hostSocket).toBe(join(stateDir, 'supervisor.sock'));
    }
    exec.close();
  });

  it("sends the job's environment on its socket: no env.json on disk, ever", async () => {
    const stateDir = join(box.root, 'env');
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300 });
    const job = box.job({ command: [], env: { SECRET: 'hunter2' } });
    const jobDir = join(stateDir, 'jobs', `${job.id}-1`);
    // The host writes spec.json just after the spawn; env.json never.
    job.payload.command = [
      'sh',
      '-c',
      'while [ ! -e "$0/spec.json" ]; do sleep 0.01; done; ls "$0"; echo "$SECRET"',
      jobDir,
    ];
    const rec = recorder();
    const run = await exec.start(job, rec);
    expect((await run.done).outcome).toBe('succeeded');
    const [secret, ...files] = rec.text().trimEnd().split('\n').reverse();
    expect(secret).toBe('hunter2');
    expect(files).toContain('spec.json');
    expect(files).not.toContain('env.json');
    const info = await waitFor(() => readSupervisorInfo(jobDir), 5000, 'supervisor.json');
    expect(info.hostSocket).toBe(join(stateDir, 'supervisor.sock'));
    exec.close();
  });

  it('records a silent job in its directory while it runs: spec.json, then supervisor.json', async () => {
    const stateDir = join(box.root, 'records');
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300 });
    const run = await exec.start(box.job({ command: ['sleep', '3'] }));
    // No output, no end yet: the host's timer writes them (RECORD_DELAY_MS after the spawn).
    const info = await waitFor(() => readSupervisorInfo(run.jobDir), 5000, 'supervisor.json');
    expect(info.pid).toBe(run.pid);
    expect(readSpec(run.jobDir)?.argv).toEqual(['sleep', '3']);
    expect(readExitInfo(run.jobDir)).toBeUndefined();
    expect((await run.done).outcome).toBe('succeeded');
    exec.close();
  });

  it('runs an attempt again in the same directory right after it ended (a handback claimed again)', async () => {
    const stateDir = join(box.root, 'again');
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300, startTimeoutMs: 3000 });
    const job = box.job({ command: 'echo run' });
    const first = recorder();
    expect((await (await exec.start(job, first)).done).outcome).toBe('succeeded');
    // The host still sweeps the first run's leftovers (up to a second); the same job directory
    // is started again at once.
    const second = recorder();
    const again = await exec.start(job, second);
    expect(await again.done).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(second.text()).toBe('run\n');
    exec.close();
  });

  it('a job whose connection to the host closes is still followed, through its directory', async () => {
    const stateDir = join(box.root, 'hiccup');
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300, pollIntervalMs: 100 });
    const rec = recorder();
    const run = await exec.start(box.job({ command: 'sleep 0.3; echo done; exit 3' }), rec);
    // The events of this job would come on this connection; the host lives on.
    exec.close();
    const out = await run.done;
    expect(out).toMatchObject({ outcome: 'failed', exitCode: 3, error: { code: 'EXIT_NONZERO' } });
    expect(rec.text()).toBe('done\n');
  });

  it('kills a command whose records cannot be written, and says why', async () => {
    const stateDir = join(box.root, 'unwritable');
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300 });
    await (
      await exec.start(box.job({ command: 'true' }))
    ).done; // the host runs now
    // A file where the job directory goes: the spawn succeeds, the records cannot.
    const jobDir = join(stateDir, 'jobs', `${box.jobId()}-1`);
    mkdirSync(join(stateDir, 'jobs'), { recursive: true });
    writeFileSync(jobDir, 'not a directory');
    const spec = { version: 1, jobId: 'x', attempt: 1, argv: ['sleep', '1000'], killGraceMs: 300 };
    const socket = net.connect(join(stateDir, 'supervisor.sock'));
    const exit = await new Promise<Record<string, unknown>>((resolve, reject) => {
      let buf = '';
      socket.on('error', reject);
      socket.on('data', (d) => {
        buf += d.toString();
        for (const line of buf.split('\n').slice(0, -1)) {
          const ev = JSON.parse(line) as {
            ev: string;
            jobDir: string;
            exit: Record<string, unknown>;
          };
          if (ev.ev === 'exit' && ev.jobDir === jobDir) resolve(ev.exit);
        }
      });
      const env = { PATH: process.env.PATH ?? '', MARK: box.token };
      socket.write(`${JSON.stringify({ op: 'start', jobDir, spec, env })}\n`);
    });
    socket.destroy();
    expect(exit.supervisorError).toMatch(/could not record the job in its directory: .*ENOTDIR/);
    expect(readFileSync(jobDir, 'utf8')).toBe('not a directory');
    exec.close();
    // afterEach: the sleep was killed (it carries the token in its environment).
  });

  it('leaves a running host of another protocol alone and starts per-job supervisors', async () => {
    const stateDir = join(box.root, 'old-host');
    mkdirSync(stateDir, { recursive: true });
    // A live process recorded as the host, as a host of an earlier version leaves it.
    const self = readProcStat('self')!;
    writeFileSync(
      join(stateDir, 'supervisor-host.json'),
      JSON.stringify({ pid: process.pid, startTime: self.startTime, bootId: bootId(), socket: '' }),
    );
    const lines: string[] = [];
    const exec = createCommandExecutor({
      stateDir,
      killGraceMs: 300,
      log: (line) => lines.push(line),
    });
    const rec = recorder();
    const run = await exec.start(box.job({ command: 'echo per-job' }), rec);
    expect((await run.done).outcome).toBe('succeeded');
    expect(rec.text()).toBe('per-job\n');
    const info = readSupervisorInfo(run.jobDir)!;
    expect(info.hostSocket).toBeUndefined();
    expect(info.supervisorPid).not.toBe(process.pid);
    expect(lines.join('\n')).toMatch(/speaks another protocol/);
    exec.close();
  });

  it('starts no job through a host of another protocol it connected to for a kill', async () => {
    const stateDir = join(box.root, 'old-host-kill');
    const jobsDir = join(stateDir, 'jobs');
    mkdirSync(jobsDir, { recursive: true });
    // A host of an earlier version (this process stands in for it), listening on the socket.
    const socketPath = join(stateDir, 'supervisor.sock');
    const received: string[] = [];
    const old = net.createServer((c) => c.on('data', (d) => received.push(d.toString())));
    await new Promise<void>((resolve) => old.listen(socketPath, resolve));
    const self = readProcStat('self')!;
    const host = { pid: process.pid, startTime: self.startTime, bootId: bootId() };
    writeFileSync(
      join(stateDir, 'supervisor-host.json'),
      JSON.stringify({ ...host, socket: socketPath, protocol: 2 }),
    );
    // A job it supervises, re-attached after a restart, then canceled: the kill goes to it.
    const oldJob = join(jobsDir, `${box.jobId()}-1`);
    mkdirSync(oldJob);
    const spec = { version: 1, jobId: 'old', attempt: 1, argv: ['x'], killGraceMs: 300 };
    writeFileSync(join(oldJob, 'spec.json'), JSON.stringify(spec));
    writeFileSync(
      join(oldJob, 'supervisor.json'),
      JSON.stringify({
        supervisorPid: host.pid,
        supervisorStartTime: host.startTime,
        bootId: host.bootId,
        hostSocket: socketPath,
        pid: null,
        pgid: null,
        startTime: null,
        startedAt: null,
      }),
    );
    const exec = createCommandExecutor({ stateDir, killGraceMs: 300 });
    const attached = await exec.attach(oldJob);
    attached.cancel();
    await waitFor(() => received.join('').includes('"op":"kill"'), 5000, 'the kill request');

    // A new job: not sent to that host (it would not make the job directory), but run by a
    // supervisor of its own.
    const rec = recorder();
    const run = await exec.start(box.job({ command: 'echo per-job' }), rec);
    expect((await run.done).outcome).toBe('succeeded');
    expect(rec.text()).toBe('per-job\n');
    expect(readSupervisorInfo(run.jobDir)!.hostSocket).toBeUndefined();
    expect(received.join('')).not.toContain('"op":"start"');
    exec.close();
    await new Promise((resolve) => old.close(resolve));
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
    const info = await waitFor(() => readSupervisorInfo(plain.jobDir), 5000, 'supervisor.json');
    expect(info.supervisorPid).toBe(host);
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
