import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  cleanEnv,
  CliProcesses,
  type CliProcess,
} from '../../cli/test/cli-process.js';
import { HAS_PROC } from './helpers.js';

// `offload start`: the server plus a local agent, zero config, as a real process.

const LISTENING = /offload server listening on (http:\/\/\S+) /;
const NEW_TOKEN = /admin token \(shown once, also saved to .+\): (offa_\S+)\n/;

let tmp: string;
let env: NodeJS.ProcessEnv;
const procs = new CliProcesses();

beforeEach(() => {
  assertBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-start-'));
  env = cleanEnv({
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    XDG_STATE_HOME: path.join(tmp, 'xdg-state'),
  });
});
afterEach(async () => {
  await procs.killAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const start = (): CliProcess =>
  procs.run(['start', '--port', '0', '--data-dir', path.join(tmp, 'data')], { cwd: tmp, env });

async function api(url: string, token: string, method: string, p: string, body?: unknown) {
  const res = await fetch(`${url}${p}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return (await res.json()) as { id: string; state: string; exitCode?: number };
}

describe.skipIf(!HAS_PROC)('offload start', () => {
  it('starts the server and a local agent that runs jobs; a restart needs no join token', async () => {
    const first = start();
    const [, url] = await first.waitForStderr(LISTENING);
    const [, token] = await first.waitForStderr(NEW_TOKEN);
    await first.waitForStderr(/offload agent: agent .* registered/);
    const job = await api(url!, token!, 'POST', '/api/v1/jobs', { command: 'echo hello' });
    const done = await api(url!, token!, 'GET', `/api/v1/jobs/${job.id}/wait?timeoutSec=20`);
    expect(done.state).toBe('succeeded');
    first.child.kill('SIGTERM');
    expect((await first.waitForExit()).code).toBe(0);
    expect(fs.statSync(path.join(tmp, 'data', 'agent', 'agent.json')).mode & 0o777).toBe(0o600);

    const second = start();
    await second.waitForStderr(/offload agent: agent .* registered/);
    second.child.kill('SIGTERM');
    expect((await second.waitForExit()).code).toBe(0);
  });
});
