import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Offload } from '@offload/client';
import type { Agent, Job } from '@offload/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanEnv, CliProcesses, type CliProcess } from './cli-process.js';

// The client commands (jobs, status, wait, logs, keys, ...) as a user runs them: the built CLI
// in real processes against a real `offload server` and a real `offload agent`.

const LISTENING = /offload server listening on (http:\/\/\S+) \(store/;
const ADMIN = 'offa_cli_client_commands_test_token_0123456789';

let tmp: string;
let url: string;
let off: Offload;
let agentName: string;
const procs = new CliProcesses();
const daemons = new CliProcesses();

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    ...extra,
  });
}

/** Runs the CLI with the admin key from the environment unless `env` says otherwise. */
async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = { OFFLOAD_URL: url, OFFLOAD_API_KEY: ADMIN },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p: CliProcess = procs.run(args, { cwd: tmp, env: baseEnv(env) });
  const exit = await p.waitForExit(30_000);
  return { code: exit.code, stdout: p.stdout, stderr: p.stderr };
}

/** A failure is one line on stderr, no stack trace. */
function oneLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(text).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  assertBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-cli-client-'));
  const server = daemons.run(['server', '--port', '0', '--data-dir', path.join(tmp, 'data')], {
    cwd: tmp,
    env: baseEnv({ OFFLOAD_ADMIN_TOKEN: ADMIN }),
  });
  [, url] = (await server.waitForStderr(LISTENING)) as [string, string];
  off = new Offload({ url, apiKey: ADMIN });
  const join = await off.keys.create({ kind: 'join-token', name: 'test-agent' });
  agentName = 'cli-test-agent';
  daemons.run(
    [
      'agent',
      '--server',
      url,
      '--join',
      join.token,
      '--name',
      agentName,
      '--state-dir',
      path.join(tmp, 'agent'),
    ],
    { cwd: tmp, env: baseEnv() },
  );
  await until(async () =>
    (await off.agents.list()).find((a) => a.name === agentName && a.state === 'online'),
  );
}, 60_000);

afterAll(async () => {
  await procs.killAll();
  await daemons.killAll();
  await off?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('connection config', () => {
  it('says how to configure when nothing is configured', async () => {
    const r = await cli(['jobs'], {});
    expect(r.code).toBe(125);
    expect(oneLine(r.stderr)).toBe(
      'offload: no server configured: run `offload login URL --key KEY` or set OFFLOAD_URL',
    );
  });

  it('login writes the config file (0600) that later commands use; flags beat the environment', async () => {
    const file = path.join(tmp, 'login', 'config.json');
    const env = { OFFLOAD_CONFIG_FILE: file };
    const login = await cli(['login', url, '--key', ADMIN], env);
    expect(login.code).toBe(0);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ url, apiKey: ADMIN });
    const listed = await cli(['jobs', '--json'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveProperty('jobs');
    // The environment beats the file, and the flag beats the environment.
    const envWins = await cli(['jobs'], { ...env, OFFLOAD_API_KEY: 'offk_bogus' });
    expect(envWins.code).toBe(125);
    const flagWins = await cli(['--key', ADMIN, 'jobs'], { ...env, OFFLOAD_API_KEY: 'offk_bogus' });
    expect(flagWins.code).toBe(0);
  });

  it('respects XDG_CONFIG_HOME', async () => {
    const xdg = path.join(tmp, 'xdg-login');
    const r = await cli(['login', url, '--key', ADMIN], { XDG_CONFIG_HOME: xdg });
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(xdg, 'offload', 'config.json'))).toBe(true);
    const listed = await cli(['jobs'], { XDG_CONFIG_HOME: xdg });
    expect(listed.code).toBe(0);
  });
});

describe('errors', () => {
  it('an unreachable server, a rejected key, a missing scope, a bad field, a missing job: one line, 125', async () => {
    const down = await cli(['jobs'], { OFFLOAD_URL: 'http://127.0.0.1:1', OFFLOAD_API_KEY: ADMIN });
    expect(down.code).toBe(125);
    expect(oneLine(down.stderr)).toMatch(
      /cannot reach the offload server at http:\/\/127\.0\.0\.1:1/,
    );

    const bad = await cli(['jobs'], { OFFLOAD_URL: url, OFFLOAD_API_KEY: 'offk_nope' });
    expect(bad.code).toBe(125);
    expect(oneLine(bad.stderr)).toMatch(/^offload: key rejected by http/);

    const ro = await off.keys.create({ kind: 'api-key', name: 'ro', scopes: ['read'] });
    const forbidden = await cli(['keys', 'list'], { OFFLOAD_URL: url, OFFLOAD_API_KEY: ro.token });
    expect(forbidden.code).toBe(125);
    expect(oneLine(forbidden.stderr)).toMatch(/lacks the "admin" scope/);

    const invalid = await cli(['jobs', '--state', 'bogus']);
    expect(invalid.code).toBe(125);
    expect(oneLine(invalid.stderr)).toMatch(/^offload: invalid request: .*state/);

    const missing = await cli(['status', 'job_missing']);
    expect(missing.code).toBe(125);
    expect(oneLine(missing.stderr)).toMatch(/job_missing/);

    const debug = await cli(['--debug', 'status', 'job_missing']);
    expect(debug.code).toBe(125);
    expect(debug.stderr).toMatch(/^\s+at /m);
  });
});

describe('jobs', () => {
  it('jobs lists, status shows, wait exits with the job code, logs prints the output', async () => {
    const job = await off.submit({
      command: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
      name: 'three',
    });
    const wait = await cli(['wait', job.id]);
    expect(wait.code).toBe(3);

    const list = await cli(['jobs', '--limit', '5']);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+STATE\s+NAME\s+QUEUE\s+AGENT\s+AGE$/);
    expect(rows.find((r) => r.startsWith(job.id))).toMatch(
      /failed\s+three\s+default\s+cli-test-agent/,
    );

    const json = await cli(['jobs', '--state', 'failed', '--json']);
    const page = JSON.parse(json.stdout) as { jobs: Job[] };
    expect(page.jobs.map((j) => j.id)).toContain(job.id);
    expect(page.jobs.every((j) => j.state === 'failed')).toBe(true);

    const status = await cli(['status', job.id, '--json']);
    expect((JSON.parse(status.stdout) as Job).exitCode).toBe(3);
    const human = await cli(['status', job.id]);
    expect(human.stdout).toMatch(/state:\s+failed/);
    expect(human.stdout).toMatch(/exit code:\s+3/);

    const attempts = await cli(['attempts', job.id]);
    expect(attempts.code).toBe(0);
    const [head, ...ran] = attempts.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^ATTEMPT\s+AGENT\s+STARTED\s+RAN\s+OUTCOME\s+DETAIL$/);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(
      /^1\s+cli-test-agent\s+\S+\s+[\d.]+s\s+failed\s+EXIT_NONZERO: exit code 3$/,
    );
    const attemptsJson = await cli(['attempts', job.id, '--json']);
    expect(JSON.parse(attemptsJson.stdout)).toMatchObject({
      attempts: [{ attempt: 1, agent: { name: 'cli-test-agent' }, outcome: 'failed', exitCode: 3 }],
    });

    const logs = await cli(['logs', job.id]);
    expect(logs.stdout).toContain('out\n');
    expect(logs.stdout).toContain('err\n');
    const follow = await cli(['logs', '-f', job.id]);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toBe('out\n');
    expect(follow.stderr).toBe('err\n');
  });

  it('wait exits 0 for success and 128+N for a signal; retry requeues; cancel gives 130', async () => {
    const ok = await off.submit({ command: ['true'] });
    expect((await cli(['wait', ok.id])).code).toBe(0);

    const killed = await off.submit({ command: ['sh', '-c', 'kill -TERM $$'] });
    expect((await cli(['wait', killed.id])).code).toBe(128 + 15);

    const retried = await cli(['retry', ok.id]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`^${ok.id} (queued|running|succeeded)\\n$`));
    await off.wait(ok.id);

    const long = await off.submit({ command: ['sleep', '30'] });
    await until(async () => ((await off.get(long.id)).state === 'running' ? true : undefined));
    const cancel = await cli(['cancel', long.id]);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`^${long.id} cancel`));
    const wait = await cli(['wait', long.id]);
    expect(wait.code).toBe(130);
    expect(oneLine(wait.stderr)).toMatch(/canceled/);
  }, 60_000);
});

describe('agents and keys', () => {
  it('agents lists, drain and resume', async () => {
    const human = await cli(['agents']);
    expect(human.stdout).toMatch(new RegExp(`${agentName}\\s+online`));
    const json = JSON.parse((await cli(['agents', '--json'])).stdout) as Agent[];
    expect(json.map((a) => a.name)).toContain(agentName);

    const drain = await cli(['drain', agentName]);
    expect(drain.code).toBe(0);
    expect(drain.stdout).toBe(`${agentName} draining\n`);
    const resume = await cli(['resume', agentName]);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toBe(`${agentName} online\n`);
  });

  it('keys create prints the secret alone, which works with its scopes; list and revoke', async () => {
    const created = await cli(['keys', 'create', '--name', 'ci', '--scope', 'submit,read']);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(created.stdout).toBe(`${token}\n`);
    expect((await cli(['jobs'], { OFFLOAD_URL: url, OFFLOAD_API_KEY: token })).code).toBe(0);

    const json = await cli([
      'keys',
      'create',
      '--name',
      'q',
      '--scope',
      'read',
      '--queue',
      'a',
      '--queue',
      'b',
      '--json',
    ]);
    const key = JSON.parse(json.stdout) as { id: string; token: string; queues: string[] };
    expect(key.token).toMatch(/\S/);
    expect(key.queues).toEqual(['a', 'b']);

    const list = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as { id: string }[];
    expect(list.map((k) => k.id)).toContain(key.id);
    expect((await cli(['keys', 'list'])).stdout).toMatch(/^ID\s+KIND\s+NAME/);

    const revoke = await cli(['keys', 'revoke', key.id]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toBe(`${key.id} revoked\n`);
    const after = await cli(['jobs'], { OFFLOAD_URL: url, OFFLOAD_API_KEY: key.token });
    expect(after.code).toBe(125);

    const badScope = await cli(['keys', 'create', '--name', 'x', '--scope', 'read,bogus']);
    expect(badScope.code).toBe(125);
    expect(oneLine(badScope.stderr)).toMatch(/unknown scope "bogus"/);
  });

  it('whoami shows the server and what the key may do', async () => {
    const admin = await cli(['whoami']);
    expect(admin.code).toBe(0);
    expect(admin.stdout).toBe(
      `server:       ${url}\ncredential:   the admin token\nscopes:       submit, read, cancel, admin, shell\n`,
    );
    const created = await cli([
      'keys',
      'create',
      '--name',
      'me',
      '--scope',
      'read',
      '--queue',
      'q1',
    ]);
    const token = created.stdout.trim();
    const json = await cli(['whoami', '--json'], { OFFLOAD_URL: url, OFFLOAD_API_KEY: token });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      server: url,
      kind: 'api-key',
      id: expect.stringMatching(/\S/),
      name: 'me',
      scopes: ['read'],
      queues: ['q1'],
    });
    const human = await cli(['whoami'], { OFFLOAD_URL: url, OFFLOAD_API_KEY: token });
    expect(human.stdout).toMatch(/^credential: {3}API key me \(\S+\)$/m);
    expect(human.stdout).toMatch(/^queues: {7}q1$/m);
  });

  it('tokens create prints a join token alone, or as JSON', async () => {
    const plain = await cli(['tokens', 'create']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^\S+\n$/);
    const json = await cli([
      'tokens',
      'create',
      '--name',
      'rack',
      '--ttl',
      '1h',
      '--single-use',
      '--json',
    ]);
    const t = JSON.parse(json.stdout) as {
      kind: string;
      token: string;
      singleUse: boolean;
      expiresAt: string;
    };
    expect(t.kind).toBe('join-token');
    expect(t.singleUse).toBe(true);
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(3_500_000);
  });
});

describe('run', () => {
  it('streams stdout to stdout and stderr to stderr and exits with the job code', async () => {
    const r = await cli(['run', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(r.code).toBe(3);
  });

  it('sends argv as given, forwards --env and --cwd, and exits 0 on success', async () => {
    const r = await cli([
      'run',
      '--env',
      'GREETING=hello world',
      '--cwd',
      tmp,
      '--name',
      'greet',
      '--',
      'sh',
      '-c',
      'printf "%s|%s\\n" "$GREETING" "$(pwd)"',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`hello world|${fs.realpathSync(tmp)}\n`);
  });

  it('--detach prints the job id; --retries sets maxAttempts; a bad field is one line', async () => {
    const r = await cli(['run', '--detach', '--retries', '2', '--priority', 'high', '--', 'true']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const job = await off.get(id);
    expect(job.maxAttempts).toBe(3);
    expect(job.priority).toBe('high');
    expect((await cli(['wait', id])).code).toBe(0);

    const bad = await cli(['run', '--priority', 'urgent', '--', 'true']);
    expect(bad.code).toBe(125);
    expect(oneLine(bad.stderr)).toMatch(/^offload: invalid request: .*priority/);
  });

  it('exits 124 on timeout', async () => {
    const r = await cli(['run', '--timeout', '500ms', '--', 'sleep', '30']);
    expect(r.code).toBe(124);
    expect(oneLine(r.stderr)).toMatch(/TIMEOUT/);
  }, 30_000);

  it('the first Ctrl-C cancels the job: exit 130', async () => {
    const p = procs.run(['run', '--name', 'ctrl-c', '--', 'sh', '-c', 'echo started; sleep 30'], {
      cwd: tmp,
      env: baseEnv({ OFFLOAD_URL: url, OFFLOAD_API_KEY: ADMIN }),
    });
    await until(async () => (p.stdout.includes('started') ? true : undefined));
    p.child.kill('SIGINT');
    const exit = await p.waitForExit(20_000);
    expect(exit.code).toBe(130);
    expect(p.stderr).toMatch(/canceling job job_/);
  }, 30_000);

  it('a second Ctrl-C detaches: exit 130 at once', async () => {
    const p = procs.run(['run', '--', 'sh', '-c', 'echo started; sleep 30'], {
      cwd: tmp,
      env: baseEnv({ OFFLOAD_URL: url, OFFLOAD_API_KEY: ADMIN }),
    });
    await until(async () => (p.stdout.includes('started') ? true : undefined));
    p.child.kill('SIGINT');
    await p.waitForStderr(/canceling job/);
    p.child.kill('SIGINT');
    expect((await p.waitForExit(10_000)).code).toBe(130);
    expect(p.stderr).toMatch(/detached from job job_|job job_\S+ canceled/);
  }, 30_000);

  it('a key without the shell scope cannot run a command: one line naming the scope', async () => {
    const key = await off.keys.create({
      kind: 'api-key',
      name: 'noshell',
      scopes: ['submit', 'read'],
    });
    const r = await cli(['run', '--', 'true'], { OFFLOAD_URL: url, OFFLOAD_API_KEY: key.token });
    expect(r.code).toBe(125);
    expect(oneLine(r.stderr)).toMatch(/lacks the "shell" scope/);
  });
});
