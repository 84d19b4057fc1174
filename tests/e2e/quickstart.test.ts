import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { CliProcess, cleanEnv } from '../../packages/cli/test/cli-process.js';

/**
 * The README's quick start, literally, in a fresh clone: `npm install`, `npm start`, then
 * `npx offload run -- echo hello` from a second process. (`npm test`, the third command,
 * is what runs this.) Homes point into a temp dir so the developer's own data is untouched.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'offload-quickstart-'));
const clone = path.join(dir, 'offload');
let start: CliProcess | undefined;

afterAll(async () => {
  if (start?.running) {
    // npm start runs node under npm: end the whole process group.
    try {
      process.kill(-start.child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await start.waitForExit(15_000).catch(() => process.kill(-start!.child.pid!, 'SIGKILL'));
  }
  rmSync(dir, { recursive: true, force: true });
});

it('npm install, npm start, then offload run from a second process', async () => {
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  const env = cleanEnv({
    OFFLOAD_HOME: path.join(dir, 'home'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_STATE_HOME: path.join(dir, 'state'),
    CI: 'true',
  });
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], {
    cwd: clone,
    env,
    stdio: 'ignore',
    timeout: 360_000,
  });

  start = new CliProcess(
    spawn('npm', ['start'], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  await start.waitForStderr(/listening on http:\/\/127\.0\.0\.1:7070/, 60_000);
  await start.waitForStderr(/agent .* registered/, 60_000);

  const out = execFileSync('npx', ['offload', 'run', '--', 'echo', 'hello'], {
    cwd: clone,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(out).toBe('hello\n');
}, 600_000);
