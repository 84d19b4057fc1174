import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Offload } from '@offload/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, cleanEnv, CliProcesses, type CliProcess } from './cli-process.js';

// The status line of `offload wait` and `offload run` on a REAL terminal: the built CLI runs
// under a pseudo-terminal made by util-linux `script`, against a real server and agent, and the
// test reads the bytes the terminal got. The same commands piped must print no status line.

const LISTENING = /offload server listening on (http:\/\/\S+) \(store/;
const ADMIN = 'offa_cli_status_line_tty_test_token_0123456789';
const AGENT = 'pty-agent';
const ERASE = '\r\x1b[K';

const SCRIPT = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let tmp: string;
let url: string;
let off: Offload;
const procs = new CliProcesses();
const daemons = new CliProcesses();
const releases: (() => void)[] = [];

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    OFFLOAD_URL: url,
    OFFLOAD_API_KEY: ADMIN,
    TERM: 'xterm-256color',
    NO_COLOR: '',
    ...extra,
  });
}

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

/**
 * The built CLI under a pseudo-terminal: stdout and stderr both go to it, read back as one
 * (unless `stdoutTo` names a file for stdout).
 */
function onTty(args: string[], extra: NodeJS.ProcessEnv = {}, stdoutTo?: string): CliProcess {
  const line =
    [process.execPath, BIN, ...args].map(quote).join(' ') +
    (stdoutTo === undefined ? '' : ` > ${quote(stdoutTo)}`);
  return procs.run(['-qfec', line, '/dev/null'], {
    command: ['script'],
    cwd: tmp,
    env: env(extra),
  });
}

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string) {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Holds the agent's one slot with a job that runs until the returned function is called, so the
 * next job queues (with a visible line) for as long as the test needs, however slow the machine.
 */
async function occupyAgent(): Promise<() => void> {
  const gate = path.join(tmp, `release-${Date.now()}`);
  const blocker = await off.submit({
    command: ['sh', '-c', `while [ ! -e '${gate}' ]; do sleep 0.05; done`],
    targetAgent: AGENT,
  });
  await until(
    async () => ((await off.get(blocker.id)).state === 'running' ? true : undefined),
    'blocker running',
  );
  const release = () => fs.writeFileSync(gate, '');
  releases.push(release);
  return release;
}

const QUEUED = new RegExp(`queued · \\d+s · waiting for agent ${AGENT}`);

/** Lets the agent work once `p` has shown the queued line. */
async function releaseWhenQueued(p: CliProcess, release: () => void): Promise<void> {
  await until(() => (QUEUED.test(p.stdout) ? true : undefined), 'the queued status line');
  release();
}

beforeAll(async () => {
  if (!SCRIPT) return;
  assertBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-cli-tty-'));
  url = 'http://unset';
  const server = daemons.run(['server', '--port', '0', '--data-dir', path.join(tmp, 'data')], {
    cwd: tmp,
    env: env({ OFFLOAD_ADMIN_TOKEN: ADMIN }),
  });
  [, url] = (await server.waitForStderr(LISTENING)) as [string, string];
  off = new Offload({ url, apiKey: ADMIN });
  const join = await off.keys.create({ kind: 'join-token', name: AGENT });
  // One job at a time: a second job queues behind the first, as on a busy fleet.
  daemons.run(
    [
      'agent',
      '--server',
      url,
      '--join',
      join.token,
      '--name',
      AGENT,
      '--max-jobs',
      '1',
      '--state-dir',
      tmp,
    ],
    { cwd: tmp, env: env() },
  );
  await until(
    async () =>
      (await off.agents.list()).find((a) => a.name === AGENT && a.state === 'online')
        ? true
        : undefined,
    'agent online',
  );
}, 30_000);

afterEach(async () => {
  await procs.killAll();
  for (const release of releases.splice(0)) release(); // free the agent even after a failure
});

afterAll(async () => {
  await procs.killAll();
  await daemons.killAll();
  await off?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!SCRIPT)('status line on a real terminal (util-linux `script`)', () => {
  it('offload wait: queued with what it waits for, then running on the agent; erased at the end', async () => {
    const release = await occupyAgent();
    const job = await off.submit({ command: ['sleep', '1.2'], targetAgent: AGENT });
    const p = onTty(['wait', job.id]);
    await releaseWhenQueued(p, release);
    expect((await p.waitForExit()).code).toBe(0);

    const out = p.stdout;
    expect(out).toContain(`${ERASE}\x1b[36m`); // repainted in place, the spinner in colour
    expect(out).toMatch(new RegExp(`running on ${AGENT} · \\d+s`));
    expect(out.indexOf('queued ·')).toBeLessThan(out.indexOf('running on'));
    expect(out.endsWith(ERASE)).toBe(true); // nothing left on the terminal
  });

  it('offload run: the line until the first output, erased before it, never redrawn; exit code kept', async () => {
    const release = await occupyAgent();
    const p = onTty([
      'run',
      '--agent',
      AGENT,
      '--',
      'sh',
      '-c',
      'sleep 1.2; echo hello-from-job; sleep 0.5; echo bye >&2; exit 3',
    ]);
    await releaseWhenQueued(p, release);
    expect((await p.waitForExit()).code).toBe(3);

    const out = p.stdout;
    const hello = out.indexOf('hello-from-job');
    expect(out.slice(0, hello)).toMatch(new RegExp(`running on ${AGENT} · \\d+s`));
    expect(out.slice(0, hello).endsWith(ERASE)).toBe(true);
    // After the output has started: the job's lines alone (the pty turns \n into \r\n).
    expect(out.slice(hello)).toBe('hello-from-job\r\nbye\r\n');
  });

  it('--quiet and TERM=dumb draw no line; NO_COLOR draws it without colour; stdout to a file keeps it', async () => {
    const cmd = (word: string) => ['--', 'sh', '-c', `sleep 0.3; echo ${word}`];
    const quiet = onTty(['run', '--quiet', ...cmd('quiet')]);
    const dumb = onTty(['run', ...cmd('dumb')], { TERM: 'dumb' });
    const plain = onTty(['run', ...cmd('plain')], { NO_COLOR: '1' });
    const file = path.join(tmp, 'stdout.txt');
    const toFile = onTty(
      ['run', '--', 'sh', '-c', 'echo to-file; sleep 2; echo to-tty >&2'],
      { NO_COLOR: '1' },
      file,
    );
    const exits = await Promise.all([quiet, dumb, plain, toFile].map((p) => p.waitForExit()));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0, 0]);

    // Output that does not reach the terminal does not end the line: it runs on through the
    // job's 2 s of silence (≈20 frames), then is erased before the job writes to the terminal.
    expect(fs.readFileSync(file, 'utf8')).toBe('to-file\n');
    expect(toFile.stdout.match(/running on pty-agent/g)?.length ?? 0).toBeGreaterThanOrEqual(10);
    expect(toFile.stdout.endsWith(`${ERASE}to-tty\r\n`)).toBe(true);

    expect(quiet.stdout).toBe('quiet\r\n');
    expect(dumb.stdout).toBe('dumb\r\n');
    expect(plain.stdout.startsWith(ERASE)).toBe(true);
    expect(plain.stdout).toMatch(/running on pty-agent · \ds/);
    expect(plain.stdout).not.toContain('\x1b[36m');
    expect(plain.stdout.endsWith(`${ERASE}plain\r\n`)).toBe(true);
  });

  it('piped, the same commands print no status line and no escape sequence', async () => {
    const job = await off.submit({ command: ['sleep', '0.5'] });
    const wait = procs.run(['wait', job.id], { cwd: tmp, env: env() });
    const run = procs.run(['run', '--', 'sh', '-c', 'sleep 0.5; echo out; exit 3'], {
      cwd: tmp,
      env: env(),
    });
    expect((await wait.waitForExit()).code).toBe(0);
    expect((await run.waitForExit()).code).toBe(3);
    expect([wait.stdout, wait.stderr]).toEqual(['', '']);
    expect([run.stdout, run.stderr]).toEqual(['out\n', '']);
  });
});

if (!SCRIPT) console.log('status-line-tty: skipped, util-linux `script` is not installed');
