import type { Job } from '@offload/protocol';
import { describe, expect, it } from 'vitest';
import { age, jobExitCode, table } from '../src/commands/format.js';

const job = (over: Partial<Job>): Job =>
  ({ id: 'job_1', kind: 'command', state: 'failed', ...over }) as Job;

describe('format', () => {
  it('maps a terminal job to the SPEC §5 exit code', () => {
    expect(jobExitCode(job({ state: 'succeeded', exitCode: 0 }))).toBe(0);
    expect(jobExitCode(job({ state: 'succeeded', kind: 'task' }))).toBe(0);
    expect(jobExitCode(job({ exitCode: 3, error: { code: 'EXIT_NONZERO', message: '' } }))).toBe(3);
    expect(
      jobExitCode(job({ signal: 'SIGKILL', error: { code: 'KILLED_BY_SIGNAL', message: '' } })),
    ).toBe(137);
    expect(jobExitCode(job({ signal: 'SIGKILL', error: { code: 'TIMEOUT', message: '' } }))).toBe(
      124,
    );
    expect(jobExitCode(job({ state: 'canceled' }))).toBe(130);
    expect(jobExitCode(job({ kind: 'task', error: { code: 'TASK_FAILED', message: '' } }))).toBe(1);
    expect(jobExitCode(job({ error: { code: 'AGENT_LOST', message: '' } }))).toBe(125);
  });

  it('formats tables and ages', () => {
    expect(table(['A', 'B'], [['xx', 'y']])).toBe('A   B\nxx  y\n');
    expect(age(new Date(Date.now() - 90_000).toISOString())).toBe('1m');
    expect(age(undefined)).toBe('-');
  });
});
