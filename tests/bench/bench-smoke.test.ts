// `npm run bench -- --smoke`: the benchmark harness end to end at a tiny size (a server,
// simulated agents and submitters in their own processes, every scenario; the shell and task
// scenarios run the real agent, `offload agent`, from the built CLI). It checks that the
// harness runs and verifies its own results (all jobs succeeded, each ran once); it never
// asserts a timing, and the real benchmarks never run in `npm test`. It runs the built dist/
// (`npm run build`; CI builds in `npm ci`) and does not build it itself: a test should not
// write dist/ under another build.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function runSmoke(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/run.js', '--smoke', '--no-build'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench -- --smoke', () => {
  it('runs every scenario and prints its row', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runSmoke();
    expect(code, `exit code; stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    for (const scenario of [
      'submit-single',
      'submit-batch',
      'process (1 agent)',
      'process (2 agents)',
      'lone-latency',
      'claim-depth',
      'shell-overhead',
      'shell-throughput',
      'task-throughput (1 agent)',
      'task-throughput (2 agents)',
    ]) {
      expect(stdout, `no row for ${scenario}`).toMatch(
        new RegExp(`^\\| ${scenario.replace(/[()]/g, '\\$&')} \\|`, 'm'),
      );
    }
    expect(stdout).not.toMatch(/FAILED/);
  });
});
