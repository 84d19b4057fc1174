import {
  createJobRecord,
  createManualClock,
  DEFAULT_QUEUE,
  DEFAULT_TIMEOUT_SEC,
} from '@offload/core';
import type { JobSubmit } from '@offload/protocol';
import { describe, expect, it } from 'vitest';
import { apiErrorOf, submit, T0 } from './fixtures.js';

describe('createJobRecord defaults', () => {
  it('fills every default for a command job', () => {
    const clock = createManualClock(T0);
    const job = createJobRecord(
      { command: ['ffmpeg', '-i', 'in.mp4', 'out.webm'] },
      { id: 'j1', now: clock.now() },
    );
    expect(job).toMatchObject({
      id: 'j1',
      kind: 'command',
      name: 'ffmpeg -i in.mp4 out.webm',
      queue: 'default',
      payload: { command: ['ffmpeg', '-i', 'in.mp4', 'out.webm'] },
      requires: { capabilities: [], cpu: 1, memoryMb: 0, gpus: 0, gpuMemoryMb: 0 },
      targetAgent: null,
      pool: null,
      priority: 'normal',
      timeoutSec: 18_000,
      maxAttempts: 1,
      backoff: { type: 'exponential', delaySec: 5, maxDelaySec: 300 },
      expireAt: null,
      idempotencyKey: null,
      tags: {},
      state: 'queued',
      attempt: 1,
      runAt: null,
      queuedAt: T0,
      leaseId: null,
      agentId: null,
      agentName: null,
      gpus: [],
      cancelRequested: false,
      exitCode: null,
      signal: null,
      error: null,
      progress: null,
      usage: null,
      createdAt: T0,
      startedAt: null,
      finishedAt: null,
    });
    expect(job.result).toBeUndefined();
    expect(DEFAULT_TIMEOUT_SEC).toBe(18_000);
    expect(DEFAULT_QUEUE).toBe('default');
  });

  it('gives a task job cpu 0 and the implicit task:<name> capability', () => {
    const job = submit({ task: 'thumbnail', input: { w: 64 } });
    expect(job.kind).toBe('task');
    expect(job.name).toBe('thumbnail');
    expect(job.payload).toEqual({ task: 'thumbnail', input: { w: 64 } });
    expect(job.requires.cpu).toBe(0);
    expect(job.requires.capabilities).toEqual(['task:thumbnail']);
  });

  it('keeps an explicit cpu, including 0 for a command and fractions', () => {
    expect(submit({ command: 'true', requires: { cpu: 0 } }).requires.cpu).toBe(0);
    expect(submit({ command: 'true', requires: { cpu: 0.25 } }).requires.cpu).toBe(0.25);
    expect(submit({ task: 't', requires: { cpu: 2 } }).requires.cpu).toBe(2);
  });

  it('sorts capabilities and removes duplicates, task capability included', () => {
    const job = submit({
      task: 'render',
      requires: { capabilities: ['os:linux', 'gpu', 'task:render', 'blender'] },
    });
    expect(job.requires.capabilities).toEqual(['blender', 'gpu', 'os:linux', 'task:render']);
  });

  it('treats gpuMemoryMb as asking for at least one GPU', () => {
    expect(submit({ command: 'x', requires: { gpuMemoryMb: 8_000 } }).requires).toMatchObject({
      gpus: 1,
      gpuMemoryMb: 8_000,
    });
    expect(submit({ command: 'x', requires: { gpus: 0, gpuMemoryMb: 8_000 } }).requires.gpus).toBe(
      1,
    );
    expect(submit({ command: 'x', requires: { gpus: 2, gpuMemoryMb: 8_000 } }).requires.gpus).toBe(
      2,
    );
    expect(submit({ command: 'x', requires: { gpus: 2 } }).requires).toMatchObject({
      gpus: 2,
      gpuMemoryMb: 0,
    });
  });

  it('applies backoff defaults per field', () => {
    expect(submit({ command: 'x', backoff: { type: 'fixed' } }).backoff).toEqual({
      type: 'fixed',
      delaySec: 5,
      maxDelaySec: 300,
    });
    expect(submit({ command: 'x', backoff: { type: 'exponential', delaySec: 1 } }).backoff).toEqual(
      {
        type: 'exponential',
        delaySec: 1,
        maxDelaySec: 300,
      },
    );
    // A delay above the default cap raises the cap to the delay.
    expect(
      submit({ command: 'x', backoff: { type: 'fixed', delaySec: 600 } }).backoff.maxDelaySec,
    ).toBe(600);
    expect(
      submit({ command: 'x', backoff: { type: 'exponential', delaySec: 2, maxDelaySec: 10 } })
        .backoff,
    ).toEqual({
      type: 'exponential',
      delaySec: 2,
      maxDelaySec: 10,
    });
  });

  it('copies the explicit fields', () => {
    const job = submit({
      command: 'make',
      name: 'build',
      queue: 'ci',
      targetAgent: 'mac-mini',
      pool: 'macs',
      priority: 'critical',
      env: { A: '1' },
      cwd: '/src',
      nice: 5,
      timeoutSec: 60,
      maxAttempts: 3,
      idempotencyKey: 'k1',
      tags: { team: 'a' },
      requires: { memoryMb: 512 },
    });
    expect(job).toMatchObject({
      name: 'build',
      queue: 'ci',
      targetAgent: 'mac-mini',
      pool: 'macs',
      priority: 'critical',
      payload: { command: 'make', env: { A: '1' }, cwd: '/src', nice: 5 },
      timeoutSec: 60,
      maxAttempts: 3,
      idempotencyKey: 'k1',
      tags: { team: 'a' },
      requires: { memoryMb: 512, cpu: 1 },
    });
  });

  it('derives the name from a command string, an argv and a task, truncated to 80 characters', () => {
    expect(submit({ command: 'tar cz . | wc -c' }).name).toBe('tar cz . | wc -c');
    expect(submit({ command: ['echo', 'a b'] }).name).toBe('echo a b');
    const exact = 'x'.repeat(80);
    expect(submit({ command: exact }).name).toBe(exact);
    const long = submit({ command: 'y'.repeat(200) }).name;
    expect(long).toBe(`${'y'.repeat(79)}…`);
    expect([...long]).toHaveLength(80);
    expect(submit({ command: ['a'.repeat(50), 'b'.repeat(50)] }).name).toBe(
      `${'a'.repeat(50)} ${'b'.repeat(28)}…`,
    );
  });

  it('never splits a surrogate pair when truncating the name', () => {
    const name = submit({ command: '😀'.repeat(100) }).name;
    expect([...name]).toHaveLength(80);
    expect(name).toBe(`${'😀'.repeat(79)}…`);
    expect(name).not.toMatch(
      /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/,
    );
    // 50 emoji are 100 UTF-16 units but only 50 characters: no truncation.
    expect(submit({ command: '😀'.repeat(50) }).name).toBe('😀'.repeat(50));
  });
});

describe('createJobRecord: scheduled or queued', () => {
  it('queues at once without runAt or delaySec', () => {
    const job = submit({ command: 'x' });
    expect(job).toMatchObject({ state: 'queued', runAt: null, queuedAt: T0 });
  });

  it('schedules with a future runAt', () => {
    const runAt = T0 + 60_000;
    const job = submit({ command: 'x', runAt: new Date(runAt).toISOString() });
    expect(job).toMatchObject({ state: 'scheduled', runAt, queuedAt: null });
  });

  it('queues with a runAt now or in the past', () => {
    expect(submit({ command: 'x', runAt: new Date(T0).toISOString() })).toMatchObject({
      state: 'queued',
      runAt: null,
      queuedAt: T0,
    });
    expect(submit({ command: 'x', runAt: new Date(T0 - 5_000).toISOString() })).toMatchObject({
      state: 'queued',
      runAt: null,
    });
  });

  it('accepts runAt with a time-zone offset', () => {
    const job = submit({ command: 'x', runAt: '2030-01-01T02:00:00+01:00' });
    expect(job).toMatchObject({ state: 'scheduled', runAt: T0 + 3_600_000 });
  });

  it('schedules with delaySec, rounded to the millisecond', () => {
    expect(submit({ command: 'x', delaySec: 30 })).toMatchObject({
      state: 'scheduled',
      runAt: T0 + 30_000,
      queuedAt: null,
    });
    expect(submit({ command: 'x', delaySec: 1.0004 }).runAt).toBe(T0 + 1_000);
    expect(submit({ command: 'x', delaySec: 0 })).toMatchObject({ state: 'queued', runAt: null });
  });
});

describe('createJobRecord: expireAt', () => {
  it('is null without expireAfterSec', () => {
    expect(submit({ command: 'x', delaySec: 5 }).expireAt).toBeNull();
  });

  it('counts from now for a queued job', () => {
    expect(submit({ command: 'x', expireAfterSec: 30 }).expireAt).toBe(T0 + 30_000);
    expect(
      submit({ command: 'x', expireAfterSec: 30, runAt: new Date(T0 - 60_000).toISOString() })
        .expireAt,
    ).toBe(T0 + 30_000);
  });

  it('counts from runAt for a scheduled job', () => {
    expect(submit({ command: 'x', expireAfterSec: 30, delaySec: 100 }).expireAt).toBe(T0 + 130_000);
    expect(
      submit({ command: 'x', expireAfterSec: 0.5, runAt: new Date(T0 + 10_000).toISOString() })
        .expireAt,
    ).toBe(T0 + 10_500);
  });
});

describe('createJobRecord validation', () => {
  const cases: Array<{ what: string; spec: JobSubmit; field: string }> = [
    { what: 'both command and task', spec: { command: 'x', task: 't' }, field: '/task' },
    { what: 'neither command nor task', spec: {}, field: '/command' },
    { what: 'input on a command job', spec: { command: 'x', input: { a: 1 } }, field: '/input' },
    {
      what: 'runAt with delaySec',
      spec: { command: 'x', runAt: new Date(T0).toISOString(), delaySec: 5 },
      field: '/delaySec',
    },
    {
      what: 'backoff maxDelaySec below delaySec',
      spec: { command: 'x', backoff: { type: 'fixed', delaySec: 10, maxDelaySec: 5 } },
      field: '/backoff/maxDelaySec',
    },
    {
      what: 'backoff maxDelaySec below the default delaySec',
      spec: { command: 'x', backoff: { type: 'exponential', maxDelaySec: 2 } },
      field: '/backoff/maxDelaySec',
    },
    {
      what: 'a runAt that is not a time',
      spec: { command: 'x', runAt: 'tomorrow' },
      field: '/runAt',
    },
  ];

  it.each(cases)('refuses $what as VALIDATION_FAILED naming $field', ({ spec, field }) => {
    const err = apiErrorOf(() => createJobRecord(spec, { id: 'j', now: T0 }));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    const details = err.details as Array<{ field: string; message: string }>;
    expect(details).toHaveLength(1);
    expect(details[0]?.field).toBe(field);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
  });

  it.each(cases)('prefixes the field of $what inside a batch', ({ spec, field }) => {
    const err = apiErrorOf(() =>
      createJobRecord(spec, { id: 'j', now: T0, fieldPrefix: '/jobs/3' }),
    );
    expect(err.code).toBe('VALIDATION_FAILED');
    expect((err.details as Array<{ field: string }>)[0]?.field).toBe(`/jobs/3${field}`);
  });

  it('accepts a backoff whose maxDelaySec equals delaySec, and input on a task', () => {
    expect(
      submit({ command: 'x', backoff: { type: 'fixed', delaySec: 5, maxDelaySec: 5 } }).backoff
        .maxDelaySec,
    ).toBe(5);
    expect(
      submit({ command: 'x', backoff: { type: 'fixed', delaySec: 1, maxDelaySec: 2 } }).backoff,
    ).toMatchObject({ delaySec: 1, maxDelaySec: 2 });
    expect(submit({ task: 't', input: null }).payload).toEqual({ task: 't', input: null });
  });
});
