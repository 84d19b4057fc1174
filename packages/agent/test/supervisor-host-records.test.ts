import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SUPERVISOR_HOST_SCRIPT } from '../src/supervisor/supervisor-host-client.js';
import { readExitInfo, readSupervisorInfo } from '../src/supervisor/supervisor-launcher.js';
import { HAS_PROC, createSandbox, expectNoLeaks, sleep, waitFor } from './helpers.js';

const box = createSandbox();
afterEach(() => expectNoLeaks(box.token));
afterAll(() => box.cleanup());

interface HostEvent {
  ev: string;
  jobDir: string;
  exitJsonAtEvent?: boolean;
}

/**
 * A supervisor host whose records wait a minute (RECORD_DELAY_MS is a second): a record seen
 * during the test was written by something other than that timer.
 */
async function startHost(stateDir: string, recordDelayMs = 60_000): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  const child = spawn(
    process.execPath,
    [SUPERVISOR_HOST_SCRIPT, stateDir, `--record-delay-ms=${recordDelayMs}`],
    { cwd: stateDir, detached: true, stdio: ['ignore', 'ignore', 'inherit', 'pipe'], env: {} },
  );
  const ready = child.stdio[3] as NodeJS.ReadableStream;
  let text = '';
  ready.setEncoding('utf8');
  ready.on('data', (d: string) => (text += d));
  await waitFor(() => text.includes('ready'), 10_000, 'the host to be ready');
  child.unref();
}

/** A connection to the host, as an agent has one: requests out, events in. */
async function connect(stateDir: string) {
  const socket = net.connect(join(stateDir, 'supervisor.sock'));
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const events: HostEvent[] = [];
  let buf = '';
  socket.on('data', (d) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const line of lines) {
      const ev = JSON.parse(line) as HostEvent;
      // What the directory held when the event came, before this process did anything else.
      if (ev.ev === 'exit') ev.exitJsonAtEvent = existsSync(join(ev.jobDir, 'exit.json'));
      events.push(ev);
    }
  });
  const send = (msg: Record<string, unknown>) => socket.write(`${JSON.stringify(msg)}\n`);
  return {
    start(jobDir: string, argv: string[]) {
      const spec = { version: 1, jobId: 'j', attempt: 1, argv, killGraceMs: 300 };
      send({ op: 'start', jobDir, spec, env: { PATH: process.env.PATH ?? '', MARK: box.token } });
    },
    release: (jobDir: string) => send({ op: 'release', jobDir }),
    kill: (jobDir: string) => send({ op: 'kill', jobDir }),
    event: (ev: string, jobDir: string) =>
      waitFor(
        () => events.find((e) => e.ev === ev && e.jobDir === jobDir),
        10_000,
        `${ev} of ${jobDir}`,
      ),
    close: () => socket.destroy(),
  };
}

describe.runIf(HAS_PROC)("the supervisor host's records of a job", () => {
  it('a silent job the agent released leaves no directory; one it did not is recorded when its agent goes', async () => {
    const stateDir = join(box.root, 'release');
    await startHost(stateDir);
    const agent = await connect(stateDir);
    const released = join(stateDir, 'jobs', 'released-1');
    const kept = join(stateDir, 'jobs', 'kept-1');
    agent.start(released, ['true']);
    agent.start(kept, ['true']);
    await agent.event('exit', released);
    await agent.event('exit', kept);
    agent.release(released);
    // The agent goes: the host writes what it still holds, both jobs in the same turn.
    agent.close();
    const exit = await waitFor(() => readExitInfo(kept), 10_000, 'exit.json of the kept job');
    expect(exit.exitCode).toBe(0);
    expect(readSupervisorInfo(kept)?.pid).toBeGreaterThan(0);
    expect(existsSync(released)).toBe(false);
  });

  it("writes a running job's records at once when the connection that started it closes", async () => {
    const stateDir = join(box.root, 'close');
    await startHost(stateDir);
    const agent = await connect(stateDir);
    const jobDir = join(stateDir, 'jobs', 'running-1');
    agent.start(jobDir, ['sleep', '1000']);
    await agent.event('spawned', jobDir);
    expect(existsSync(jobDir)).toBe(false);
    agent.close();
    // Only the close can have written it: the host's own timer waits a minute here.
    const info = await waitFor(() => readSupervisorInfo(jobDir), 10_000, 'supervisor.json');
    expect(readExitInfo(jobDir)).toBeUndefined();
    const other = await connect(stateDir);
    other.kill(jobDir);
    const exit = await waitFor(() => readExitInfo(jobDir), 10_000, 'exit.json');
    expect(exit).toMatchObject({ killReason: 'cancel', signal: 'SIGTERM' });
    expect(info.pid).toBeGreaterThan(0);
    other.close();
  });

  it('a short job that printed keeps only its output; one past the delay has exit.json at its event', async () => {
    const stateDir = join(box.root, 'printed');
    await startHost(stateDir);
    const agent = await connect(stateDir);
    const short = join(stateDir, 'jobs', 'short-1');
    agent.start(short, ['sh', '-c', 'echo hi; exit 3']);
    await agent.event('exit', short);
    agent.release(short);
    expect(readFileSync(join(short, 'output.log'), 'utf8')).toContain('hi');
    expect(readSupervisorInfo(short)).toBeUndefined();
    agent.close(); // released: the close writes nothing for it
    await sleep(300);
    expect(readdirSync(short).sort()).toEqual(['output.log', 'spec.json']);

    // A host whose records wait 50 ms: the job outlives that, so supervisor.json is written
    // while it runs, and exit.json then goes before the event. A directory with supervisor.json
    // and no exit.json must never be seen by an agent that knows the job ended.
    const quick = join(box.root, 'quick');
    await startHost(quick, 50);
    const other = await connect(quick);
    const long = join(quick, 'jobs', 'long-1');
    other.start(long, ['sleep', '0.3']);
    const exit = await other.event('exit', long);
    expect(exit.exitJsonAtEvent).toBe(true);
    expect(readExitInfo(long)?.exitCode).toBe(0);
    expect(readSupervisorInfo(long)?.pid).toBeGreaterThan(0);
    other.close();
  });
});
