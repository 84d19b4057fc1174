import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createCommandExecutor, type CommandRun } from '../src/index.js';
import { readExitInfo, readSpec } from '../src/supervisor/supervisor-launcher.js';
import {
  HAS_PROC,
  createSandbox,
  expectNoLeaks,
  groupMembers,
  processesWith,
  recorder,
  sleep,
  waitFor,
} from './helpers.js';

const box = createSandbox();
const exec = createCommandExecutor({
  stateDir: box.stateDir,
  killGraceMs: 300,
  pollIntervalMs: 200,
  hasGpus: true,
});
const runs: CommandRun[] = [];
const start = async (...args: Parameters<typeof exec.start>) => {
  const run = await exec.start(...args);
  runs.push(run);
  return run;
};

afterEach(async () => {
  for (const r of runs.splice(0)) {
    r.cancel();
    await r.done;
  }
  await expectNoLeaks(box.token);
});
afterAll(() => box.cleanup());

describe.runIf(HAS_PROC)('command executor: what runs', () => {
  it('runs an argv directly, without a shell', async () => {
    const rec = recorder();
    const run = await start(box.job({ command: ['printf', '%s|', 'a b', '$HOME', '*'] }), rec);
    const out = await run.done;
    expect(out).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(rec.text('stdout')).toBe('a b|$HOME|*|');
  });

  it('runs a string under /bin/sh -c', async () => {
    const rec = recorder();
    const run = await start(box.job({ command: 'echo $((1+2)) | tr 3 x' }), rec);
    expect((await run.done).outcome).toBe('succeeded');
    expect(rec.text()).toBe('x\n');
  });

  it('sets the job env plus OFFLOAD_* and CUDA_VISIBLE_DEVICES', async () => {
    const script =
      'echo "$OFFLOAD_JOB_ID|$OFFLOAD_ATTEMPT|$OFFLOAD_CPUS|${CUDA_VISIBLE_DEVICES-unset}|$FOO"';
    const noGpu = box.job({ command: script, env: { FOO: 'bar baz' } }, { cpu: 0.5, attempt: 3 });
    const withGpu = box.job(
      { command: script, env: { FOO: '1', CUDA_VISIBLE_DEVICES: '7' } },
      { gpus: [0, 2] },
    );
    const [a, b] = [recorder(), recorder()];
    const runA = await start(noGpu, a);
    const runB = await start(withGpu, b);
    await Promise.all([runA.done, runB.done]);
    expect(a.text()).toBe(`${noGpu.id}|3|0.5||bar baz\n`);
    // The reservation wins over a job's own CUDA_VISIBLE_DEVICES.
    expect(b.text()).toBe(`${withGpu.id}|1|1|0,2|1\n`);
  });

  it('runs in the job cwd', async () => {
    const dir = join(box.root, 'work dir');
    mkdirSync(dir);
    const rec = recorder();
    const run = await start(box.job({ command: ['pwd'], cwd: dir }), rec);
    await run.done;
    expect(rec.text()).toBe(`${dir}\n`);
  });

  it('applies nice to the command and what it forks', async () => {
    const rec = recorder();
    const run = await start(box.job({ command: 'sleep 30 & echo forked; wait', nice: 7 }), rec);
    await waitFor(() => rec.text().includes('forked'), 5000, 'the fork');
    const pgid = run.pid!;
    const nices = groupMembers(pgid).map((p) => {
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19
    });
    expect(nices.length).toBeGreaterThanOrEqual(2);
    expect(nices.every((n) => n === 7)).toBe(true);
  });
});

describe.runIf(HAS_PROC)('command executor: output and progress', () => {
  it('captures stdout and stderr in order, in the log and in the stream', async () => {
    const rec = recorder();
    const run = await start(
      box.job({
        command:
          'echo one; sleep 0.05; echo two >&2; sleep 0.05; echo "::progress 40 encoding"; sleep 0.05; printf "no newline"; sleep 0.05; echo " done" >&2; echo three',
      }),
      rec,
    );
    const out = await run.done;
    expect(out.outcome).toBe('succeeded');
    // Chunk boundaries depend on timing; the sequence of (stream, text) does not.
    const merged = rec.chunks
      .map((c, i) => (rec.chunks[i - 1]?.stream === c.stream ? c.data : `${c.stream}:${c.data}`))
      .join('');
    expect(merged).toBe(
      'stdout:one\nstderr:two\nstdout:::progress 40 encoding\nno newlinestderr: done\nstdout:three\n',
    );
    expect(rec.progress).toEqual([{ percent: 40, stage: 'encoding' }]);
    // The local log keeps both streams, the progress line and the order.
    const log = readFileSync(join(run.jobDir, 'output.log'), 'utf8');
    expect(log).toBe('O one\nE two\nO ::progress 40 encoding\no no newline\nE  done\nO three\n');
    expect(rec.chunks.at(-1)!.offset).toBe(Buffer.byteLength(log));
    expect(run.logOffset).toBe(Buffer.byteLength(log));
  });

  it('batches a flood of output into few chunks, none over 64 KiB, nothing lost', async () => {
    const rec = recorder();
    const run = await start(
      box.job({
        command: ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done'],
      }),
      rec,
    );
    await run.done;
    const text = rec.text();
    expect(text.split('\n').length - 1).toBe(20000);
    expect(text.endsWith('line 19999\n')).toBe(true);
    expect(rec.chunks.every((c) => Buffer.byteLength(c.data) <= 64 * 1024)).toBe(true);
    expect(rec.chunks.length).toBeLessThan(100);
  });

  it('keeps multi-byte characters whole', async () => {
    const rec = recorder();
    const run = await start(box.job({ command: ['printf', 'h\u00e9llo \u2713 \u{1f600}\n'] }), rec);
    await run.done;
    expect(rec.text()).toBe('h\u00e9llo \u2713 \u{1f600}\n');
  });
});

describe.runIf(HAS_PROC)('command executor: outcomes', () => {
  it('maps exit codes and signals', async () => {
    const ok = await start(box.job({ command: ['true'] }));
    const bad = await start(box.job({ command: 'exit 42' }));
    const sig = await start(box.job({ command: 'kill -9 $$' }));
    expect(await ok.done).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(await bad.done).toMatchObject({
      outcome: 'failed',
      exitCode: 42,
      error: { code: 'EXIT_NONZERO', message: 'exit code 42' },
    });
    expect(await sig.done).toMatchObject({
      outcome: 'failed',
      signal: 'SIGKILL',
      error: { code: 'KILLED_BY_SIGNAL', message: 'killed by signal SIGKILL' },
    });
  });

  it('fails a command that does not exist quickly, naming it', async () => {
    const t0 = Date.now();
    const run = await start(box.job({ command: ['offload-no-such-command', '--x'] }));
    const out = await run.done;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(out.outcome).toBe('failed');
    expect(out.error?.code).toBe('SPAWN_FAILED');
    expect(out.error?.message).toMatch(/"offload-no-such-command".*not found/);
    expect(run.pid).toBeUndefined();
    // The job directory a restarted agent would read says the same (the shared host makes it
    // after the spawn, also after one that failed).
    const exit = await waitFor(() => readExitInfo(run.jobDir), 5000, 'exit.json');
    expect(exit.spawnError).toMatch(/"offload-no-such-command".*not found/);
    expect(readSpec(run.jobDir)?.argv).toEqual(['offload-no-such-command', '--x']);
  });

  it('fails a bad cwd and a non-executable file with clear messages', async () => {
    const missing = join(box.root, 'nope');
    const noexec = join(box.root, 'script.sh');
    writeFileSync(noexec, '#!/bin/sh\necho hi\n');
    chmodSync(noexec, 0o644);
    const a = await start(box.job({ command: ['ls'], cwd: missing }));
    const b = await start(box.job({ command: [noexec] }));
    const c = await start(box.job({ command: [] }));
    expect((await a.done).error).toEqual({
      code: 'SPAWN_FAILED',
      message: `cannot start "ls": working directory ${missing} does not exist`,
    });
    expect((await b.done).error?.message).toMatch(/script\.sh".*permission denied/);
    expect((await c.done).error).toEqual({ code: 'SPAWN_FAILED', message: 'the command is empty' });
  });

  it('reports plausible usage: a busy loop has CPU time', async () => {
    const run = await start(
      box.job({ command: ['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'] }),
    );
    const out = await run.done;
    expect(out.outcome).toBe('succeeded');
    expect(out.usage.wallSec).toBeGreaterThan(0.05);
    expect(out.usage.cpuSec).toBeGreaterThan(0.05);
    expect(out.usage.cpuSec!).toBeLessThanOrEqual(out.usage.wallSec * 2 + 0.1);
    expect(out.usage.maxRssMb).toBeGreaterThan(0);
    expect(out.usage.maxRssMb).toBeLessThan(500);
  });
});

describe.runIf(HAS_PROC)('command executor: usage', () => {
  it('samples the peak RSS of the whole tree, grandchildren included', async () => {
    const node = JSON.stringify(process.execPath);
    const hog = `const b = Buffer.alloc(80e6, 1); setTimeout(() => b.length, 700)`;
    const run = await start(box.job({ command: `${node} -e '${hog}' & wait` }));
    const out = await run.done;
    expect(out.outcome).toBe('succeeded');
    expect(out.usage.maxRssMb).toBeGreaterThan(80);
    expect(out.usage.cpuSec).toBeGreaterThan(0);
  });
});

describe.runIf(HAS_PROC)('command executor: cancel, timeout, no orphans', () => {
  it('cancel kills the whole tree, background jobs included', async () => {
    const rec = recorder();
    const run = await start(box.job({ command: 'sleep 1000 & sleep 1000; wait' }), rec);
    const pgid = run.pid!;
    await waitFor(() => groupMembers(pgid).filter((p) => p.cmd.startsWith('sleep')).length === 2);
    run.cancel();
    const out = await run.done;
    expect(out).toMatchObject({ outcome: 'failed', error: { code: 'CANCELED' } });
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('escalates to SIGKILL when the tree ignores SIGTERM', async () => {
    const run = await start(box.job({ command: 'trap "" TERM; sleep 1000 & sleep 1000; wait' }));
    const pgid = run.pid!;
    await waitFor(() => groupMembers(pgid).length === 3, 5000, 'sh and two sleeps');
    const t0 = Date.now();
    run.cancel();
    const out = await run.done;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250); // waited out the 300 ms grace
    expect(out).toMatchObject({ signal: 'SIGKILL', error: { code: 'CANCELED' } });
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('times out: TIMEOUT and the tree is gone', async () => {
    const run = await start(
      box.job({ command: 'sleep 1000 & sleep 1000; wait' }, { timeoutSec: 0.3 }),
    );
    const pgid = run.pid!;
    const out = await run.done;
    expect(out).toMatchObject({
      outcome: 'failed',
      error: { code: 'TIMEOUT', message: 'timed out after 0.3 s; the process tree was killed' },
    });
    expect(out.usage.wallSec).toBeGreaterThanOrEqual(0.3);
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('kills what a finished command left running in its group', async () => {
    const run = await start(box.job({ command: 'sleep 1000 & echo left' }));
    const pgid = run.pid!;
    const out = await run.done;
    expect(out.outcome).toBe('succeeded');
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('kills what a finished command left in another group of its session', async () => {
    // bash with job control puts the background job in a group of its own: kill(-pgid) at the
    // command's exit misses it; the sweep after the end finds it in the session.
    const run = await start(
      box.job({ command: ['bash', '-c', 'set -m; sleep 1000 >/dev/null 2>&1 & echo $!'] }),
    );
    const out = await run.done;
    expect(out.outcome).toBe('succeeded');
    await waitFor(
      () => !processesWith(box.token).some((p) => p.cmd === 'sleep 1000'),
      10_000,
      'the background job in its own group to be killed',
    );
  });

  it('a second cancel, or one after the end, is harmless', async () => {
    const run = await start(box.job({ command: ['sleep', '1000'] }));
    run.cancel();
    run.cancel();
    expect((await run.done).error?.code).toBe('CANCELED');
    run.cancel();
    await sleep(50);
  });

  it('a process that escaped with setsid cannot hold the job open (documented limit: it survives)', async () => {
    const t0 = Date.now();
    // The command ends only once the escape is done (the fifo): a `setsid` still on its way
    // out is in the group when the command exits, and is killed with it.
    const fifo = join(box.root, 'escaped.fifo');
    const escape = `mkfifo ${fifo}; setsid sh -c 'echo > "$0"; exec sleep 30' ${fifo} &`;
    const run = await start(box.job({ command: `${escape} read _ < ${fifo}; echo started` }));
    const out = await run.done;
    expect(out.outcome).toBe('succeeded');
    // Its copy of the output pipe is dropped after killGraceMs + 2 s.
    expect(Date.now() - t0).toBeLessThan(5000);
    const escaped = processesWith(box.token).filter((p) => p.cmd === 'sleep 30');
    expect(escaped).toHaveLength(1);
    for (const p of escaped) process.kill(p.pid, 'SIGKILL');
  });
});
