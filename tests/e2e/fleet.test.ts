import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Offload } from '@offload/client';
import type { Job } from '@offload/protocol';
import { assertBuilt, CliProcesses, cleanEnv } from '../../packages/cli/test/cli-process.js';

/**
 * One server and two agents with different capabilities, all real processes of the built
 * CLI: mixed jobs land only where they may run, and a job whose agent is killed with -9
 * finishes on the other agent as its next attempt.
 */
const TASKS = fileURLToPath(new URL('./fixtures/tasks.mjs', import.meta.url));
const ADMIN = 'offa_fleet_test_admin_token';

let dir: string;
let procs: CliProcesses;
let marker: string;

beforeEach(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'offload-fleet-'));
  procs = new CliProcesses();
  marker = `fleet-marker-${process.pid}-${Date.now()}`;
});

afterEach(async () => {
  await procs.killAll();
  // The job of the killed agent outlives it by design (its supervisor is detached): end it.
  try {
    execFileSync('pkill', ['-KILL', '-f', marker]);
  } catch {
    // nothing left
  }
  rmSync(dir, { recursive: true, force: true });
});

async function startFleet() {
  const env = cleanEnv({ OFFLOAD_ADMIN_TOKEN: ADMIN });
  const server = procs.run(
    ['server', '--port', '0', '--data-dir', path.join(dir, 'server'), '--lease-timeout', '2s'],
    { env },
  );
  const url = (await server.waitForStderr(/listening on (http:\/\/\S+)/))[1]!;
  const off = new Offload({ url, apiKey: ADMIN });
  const join = (await off.keys.create({ kind: 'join-token', name: 'fleet' })).token;
  const agent = (name: string, args: string[]) => {
    const p = procs.run(
      [
        'agent',
        '--server',
        url,
        '--join',
        join,
        '--name',
        name,
        '--max-jobs',
        '4',
        '--state-dir',
        path.join(dir, name),
        '--drain-timeout',
        '1s',
        ...args,
      ],
      { env: cleanEnv() },
    );
    return p;
  };
  const alpha = agent('alpha', ['--cap', 'ffmpeg', '--cap', 'shared']);
  const beta = agent('beta', ['--cap', 'blender', '--cap', 'shared', '--tasks', TASKS]);
  await Promise.all([alpha.waitForStderr(/registered/), beta.waitForStderr(/registered/)]);
  return { off, alpha, beta };
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a fleet of two agents', () => {
  it('runs 200 mixed jobs, each only on an agent that may run it', async () => {
    const { off } = await startFleet();
    const kinds = ['ffmpeg', 'blender', 'task', 'any'] as const;
    const specs = Array.from({ length: 200 }, (_, i) => {
      const kind = kinds[i % 4]!;
      if (kind === 'task') return { task: 'echo', input: { i }, tags: { kind } };
      const requires = kind === 'any' ? {} : { capabilities: [kind] };
      return {
        command: ['sh', '-c', 'echo "job $OFFLOAD_JOB_ID attempt $OFFLOAD_ATTEMPT"'],
        requires,
        tags: { kind },
      };
    });
    const submitted = await off.submitBatch(specs);
    const done: Job[] = await Promise.all(submitted.map((j) => off.wait(j.id, { timeoutSec: 60 })));

    const eligible: Record<string, string[]> = {
      ffmpeg: ['alpha'],
      blender: ['beta'],
      task: ['beta'],
      any: ['alpha', 'beta'],
    };
    for (const job of done) {
      expect(job.state, JSON.stringify(job)).toBe('succeeded');
      expect(eligible[job.tags.kind!]).toContain(job.agent?.name);
    }
    const task = done.find((j) => j.tags.kind === 'task')!;
    expect(task.result).toMatchObject({ echoed: { i: 2 }, attempt: 1 });
    const command = done.find((j) => j.tags.kind === 'ffmpeg')!;
    expect(await off.logs(command.id)).toBe(`job ${command.id} attempt 1\n`);
  }, 90_000);

  it('a job whose agent is killed with -9 finishes on the other agent as attempt 2', async () => {
    const { off, alpha, beta } = await startFleet();
    // Keep beta out of the way until the job is running on alpha.
    await off.agents.drain('beta');
    const job = await off.submit({
      command: [
        'sh',
        '-c',
        `if [ "$OFFLOAD_ATTEMPT" = 1 ]; then sleep 60 # ${marker}\nfi; echo "finished attempt $OFFLOAD_ATTEMPT"`,
      ],
      requires: { capabilities: ['shared'] },
      maxAttempts: 2,
      backoff: { type: 'fixed', delaySec: 0 },
    });
    await until('the job to run on alpha', async () => {
      const j = await off.get(job.id);
      return j.state === 'running' && j.agent?.name === 'alpha' ? j : undefined;
    });
    await off.agents.resume('beta');
    alpha.child.kill('SIGKILL');

    const done = await off.wait(job.id, { timeoutSec: 60 });
    expect(done).toMatchObject({ state: 'succeeded', attempt: 2, agent: { name: 'beta' } });
    expect(await off.logs(job.id)).toContain('finished attempt 2');
    const alphaView = await off.agents.get('alpha');
    expect(alphaView.state).toBe('offline');
    // Draining and resuming did not stop beta: it is still running and online.
    expect(beta.running).toBe(true);
    expect((await off.agents.get('beta')).state).toBe('online');
  }, 90_000);
});
