import type { Job } from '@offload/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CliIo } from '../src/cli-io.js';
import {
  colorWanted,
  describeJob,
  formatElapsed,
  StatusLine,
  statusLineWanted,
} from '../src/status-line.js';

// The status line's text and repainting, on a fake clock. Its behaviour on a real terminal is
// tested in status-line-tty.test.ts.

const job = (over: Partial<Job>): Job =>
  ({
    id: 'job_1',
    kind: 'command',
    state: 'queued',
    attempt: 1,
    maxAttempts: 1,
    requires: { capabilities: [], cpu: 1, memoryMb: 0, gpus: 0, gpuMemoryMb: 0 },
    ...over,
  }) as Job;

const io = (over: Partial<CliIo>): CliIo => ({
  stdout: () => undefined,
  stderr: () => undefined,
  env: {},
  cwd: '/',
  ...over,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('status line text', () => {
  it('says what a queued job waits for, in the words of its requirements', () => {
    expect(describeJob(job({}), 3_000)).toBe('queued · 3s · waiting for an agent');
    expect(
      describeJob(
        job({
          requires: { capabilities: ['gpu'], cpu: 4, memoryMb: 2048, gpus: 2, gpuMemoryMb: 0 },
          pool: 'render',
        }),
        0,
      ),
    ).toBe('queued · 0s · waiting for an agent with gpu, 2 GPUs, 4 CPUs, 2048 MB in pool render');
    expect(describeJob(job({ targetAgent: 'box-1', attempt: 2, maxAttempts: 3 }), 65_000)).toBe(
      'queued (attempt 2 of 3) · 1m05s · waiting for agent box-1',
    );
  });

  it('shows the agent, progress and elapsed of a running job', () => {
    const running = job({
      state: 'running',
      agent: { id: 'agt_1', name: 'gpu-box-1' },
      progress: { percent: 42.4, stage: 'render' },
    });
    expect(describeJob(running, 12_000)).toBe('running on gpu-box-1 · 42% render · 12s');
    const { progress: _, ...silent } = running;
    expect(describeJob(silent, 7_300_000)).toBe('running on gpu-box-1 · 2h01m');
    expect(describeJob({ ...running, cancelRequested: true }, 1_000)).toBe(
      'canceling on gpu-box-1 · 1s',
    );
  });

  it('shows when a scheduled job starts', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(
      describeJob(job({ state: 'scheduled', runAt: '2026-01-01T00:05:00Z' }), 2_000, now),
    ).toBe('scheduled · 2s · starts in 5m00s');
  });

  it('formats elapsed times', () => {
    expect([0, 59_999, 60_000, 3_599_000, 3_600_000].map(formatElapsed)).toEqual([
      '0s',
      '59s',
      '1m00s',
      '59m59s',
      '1h00m',
    ]);
  });
});

describe('when the status line shows', () => {
  it('only on a terminal that can erase a line, and not with --quiet', () => {
    expect(statusLineWanted(io({ stderrIsTTY: true }))).toBe(true);
    expect(statusLineWanted(io({ stderrIsTTY: true }), true)).toBe(false);
    expect(statusLineWanted(io({ stderrIsTTY: false }))).toBe(false);
    expect(statusLineWanted(io({}))).toBe(false);
    expect(statusLineWanted(io({ stderrIsTTY: true, env: { TERM: 'dumb' } }))).toBe(false);
  });

  it('in colour unless NO_COLOR (not empty) or TERM=dumb', () => {
    expect(colorWanted({ TERM: 'xterm-256color' })).toBe(true);
    expect(colorWanted({ NO_COLOR: '1' })).toBe(false);
    expect(colorWanted({ NO_COLOR: '' })).toBe(true);
    expect(colorWanted({ TERM: 'dumb' })).toBe(false);
  });
});

describe('StatusLine', () => {
  it('waits out the delay, repaints in place, fits the width, and erases itself on stop', () => {
    vi.useFakeTimers();
    let out = '';
    const line = new StatusLine({
      write: (t) => (out += t),
      color: false,
      columns: () => 30,
      delayMs: 200,
      frameMs: 100,
    });
    line.update(job({ requires: { capabilities: ['gpu'], cpu: 1, memoryMb: 0, gpus: 0 } } as Job));
    vi.advanceTimersByTime(100);
    expect(out).toBe(''); // an instant job shows nothing
    vi.advanceTimersByTime(200);
    expect(out).toBe('\r\x1b[K⠋ queued · 0s · waiting for a\r\x1b[K⠙ queued · 0s · waiting for a');
    for (const frame of out.split('\r\x1b[K').slice(1)) expect(Array.from(frame)).toHaveLength(29);

    out = '';
    line.print('offload: a message\n');
    expect(out).toBe('\r\x1b[Koffload: a message\n');

    out = '';
    line.update(job({ state: 'running', agent: { id: 'a', name: 'box' } }));
    vi.advanceTimersByTime(1_000);
    expect(out.startsWith('\r\x1b[K')).toBe(true);
    expect(out).toContain(' running on box · 0s');
    expect(out).toMatch(/running on box · 1s$/);
    out = '';
    line.stop();
    expect(out).toBe('\r\x1b[K');
    line.update(job({ state: 'succeeded' }));
    vi.advanceTimersByTime(1_000);
    expect(out).toBe('\r\x1b[K'); // nothing after stop
  });

  it('colours only the spinner, and only when asked', () => {
    vi.useFakeTimers();
    let out = '';
    const line = new StatusLine({ write: (t) => (out += t), color: true, delayMs: 0 });
    line.update(job({}));
    vi.advanceTimersByTime(100);
    expect(out).toBe('\r\x1b[K\x1b[36m⠋\x1b[39m queued · 0s · waiting for an agent');
    line.stop();
  });
});
