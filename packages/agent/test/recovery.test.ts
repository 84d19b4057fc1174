import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCommandExecutor, isSameProcess, type JobOutcome } from '../src/index.js';
import { readSupervisorInfo } from '../src/supervisor/supervisor-launcher.js';
import {
  HAS_PROC,
  createSandbox,
  expectNoLeaks,
  groupMembers,
  processesWith,
  recorder,
  waitFor,
} from './helpers.js';

const box = createSandbox();
const exec = createCommandExecutor({
  stateDir: box.stateDir,
  killGraceMs: 300,
  pollIntervalMs: 100,
});
const FIXTURE = fileURLToPath(new URL('./fixtures/start-job.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

beforeAll(() => {
  if (!existsSync(DIST))
    throw new Error(`${DIST} is missing: build first with \`npx tsc -b tsconfig.build.json\``);
});
afterEach(() => expectNoLeaks(box.token));
afterAll(() => box.cleanup());

/** Starts the fixture agent, returns what it printed and the process. */
async function startInSeparateAgent(jobId: string, command: string) {
  const child = spawn(process.execPath, [FIXTURE, box.stateDir, jobId, command], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const line = await waitFor(() => out.includes('\n') && out, 10_000, 'the fixture agent');
  const started = JSON.parse(line) as { jobDir: string; pid: number };
  return { child, ...started };
}

/**
 * Kills the fixture agent with -9. Its job's records are not written yet (RECORD_DELAY_MS);
 * the host writes them once the agent's connection closes, before a restarted agent reads them.
 */
async function killAgent(child: ChildProcess, jobDir: string): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  await waitFor(() => readSupervisorInfo(jobDir), 5000, 'supervisor.json');
}

describe.runIf(HAS_PROC)('a job outlives its agent', () => {
  it('survives kill -9 of the agent; attach gets the outcome exactly once, output complete', async () => {
    const jobId = box.jobId();
    const { child, jobDir, pid } = await startInSeparateAgent(
      jobId,
      'echo before; sleep 1; echo after >&2; exit 7',
    );
    await killAgent(child, jobDir);
    const info = readSupervisorInfo(jobDir)!;
    expect(isSameProcess(info.supervisorPid, info.supervisorStartTime)).toBe(true);
    expect(isSameProcess(pid, info.startTime)).toBe(true);

    const rec = recorder();
    const run = await exec.attach(jobDir, rec);
    expect(run.jobId).toBe(jobId);
    let resolutions = 0;
    const out = await run.done.then((o) => (resolutions++, o));
    expect(out).toMatchObject({
      outcome: 'failed',
      exitCode: 7,
      error: { code: 'EXIT_NONZERO', message: 'exit code 7' },
    });
    expect(out.usage.wallSec).toBeGreaterThanOrEqual(1);
    expect(rec.text()).toBe('before\nafter\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(resolutions).toBe(1);

    // Attaching again to the finished directory resolves at once with the same outcome,
    // and resuming from the saved offset repeats no output.
    const rec2 = recorder();
    const again = await exec.attach(jobDir, { ...rec2, logOffset: run.logOffset });
    expect(await again.done).toEqual(out);
    expect(rec2.chunks).toEqual([]);
  });

  it('attach can cancel a re-adopted job: the tree dies, CANCELED', async () => {
    const { child, jobDir, pid } = await startInSeparateAgent(
      box.jobId(),
      'sleep 1000 & sleep 1000; wait',
    );
    await killAgent(child, jobDir);
    const run = await exec.attach(jobDir);
    await waitFor(() => groupMembers(pid).length === 3, 5000, 'the tree');
    run.cancel();
    expect((await run.done).error?.code).toBe('CANCELED');
    expect(groupMembers(pid)).toEqual([]);
  });

  it('a supervisor killed -9 leaves no orphan: the tree is killed, AGENT_LOST', async () => {
    const run = await exec.start(box.job({ command: 'sleep 1000 & sleep 1000; wait' }));
    const pid = run.pid!;
    await waitFor(() => groupMembers(pid).length === 3, 5000, 'the tree');
    const info = await waitFor(() => readSupervisorInfo(run.jobDir), 5000, 'supervisor.json');
    process.kill(info.supervisorPid, 'SIGKILL');
    const out: JobOutcome = await run.done;
    expect(out).toMatchObject({ outcome: 'failed', error: { code: 'AGENT_LOST' } });
    expect(out.error!.message).toMatch(/supervisor \(pid \d+\) is gone/);
    expect(groupMembers(pid)).toEqual([]);
  });

  it('treats a live pid with another start time as gone (pid reuse) and leaves it alone', async () => {
    // A process that is NOT the job: its pid is written into a job directory with a wrong
    // start time, as after a reboot or pid wrap-around.
    const stranger = spawn('sleep', ['30'], { env: { ...process.env, MARK: box.token } });
    await waitFor(() => processesWith(box.token).some((p) => p.pid === stranger.pid));
    const pid = stranger.pid!;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTime = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const jobDir = join(box.stateDir, 'jobs', `${box.jobId()}-1`);
    mkdirSync(jobDir, { recursive: true });
    writeFileSync(
      join(jobDir, 'spec.json'),
      JSON.stringify({
        version: 1,
        jobId: 'job_x',
        attempt: 1,
        argv: ['x'],
        killGraceMs: 300,
        createdAt: new Date().toISOString(),
      }),
    );
    writeFileSync(
      join(jobDir, 'supervisor.json'),
      JSON.stringify({
        supervisorPid: pid,
        supervisorStartTime: startTime + 1,
        bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
        pid,
        pgid: pid,
        startTime: startTime + 1,
        startedAt: new Date().toISOString(),
      }),
    );
    try {
      const run = await exec.attach(jobDir);
      const out = await run.done;
      expect(out.error?.code).toBe('AGENT_LOST');
      expect(isSameProcess(pid, startTime)).toBe(true); // not killed: it was never ours
    } finally {
      stranger.kill('SIGKILL');
      await new Promise((r) => stranger.once('exit', r));
    }
  });

  it('the leak check itself sees a leaked process', async () => {
    const p = spawn('sleep', ['30'], { env: { ...process.env, MARK: box.token } });
    await waitFor(() => processesWith(box.token).length > 0, 3000, 'the leak');
    await expect(expectNoLeaks(box.token, 100)).rejects.toThrow(/leaked/);
    await new Promise((r) => p.once('exit', r));
  });
});
