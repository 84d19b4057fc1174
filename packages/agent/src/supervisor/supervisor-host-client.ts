import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonFile } from './job-files.js';
import { bootId, isSameProcess } from './proc.js';

/** The host script beside this module: src/ under vitest, dist/ once built. */
export const SUPERVISOR_HOST_SCRIPT = fileURLToPath(
  new URL('./supervisor-host.js', import.meta.url),
);

const READY_TIMEOUT_MS = 10_000;

interface HostInfo {
  pid: number;
  startTime: number | null;
  bootId: string | null;
  socket: string;
}

/**
 * The agent's side of the shared supervisor host (supervisor-host.js): starts it when no live
 * one owns `<stateDir>/supervisor.sock`, keeps one connection to it, and sends start and kill
 * requests. The connection is the host's sign that an agent is around; closing it lets an idle
 * host exit.
 */
export class SupervisorHostClient {
  readonly socketPath: string;
  private readonly infoFile: string;
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private readonly goneListeners = new Set<() => void>();
  private closed = false;

  constructor(private readonly stateDir: string) {
    this.socketPath = join(stateDir, 'supervisor.sock');
    this.infoFile = join(stateDir, 'supervisor-host.json');
  }

  /** Asks the host to supervise a prepared job directory; starts the host first if needed. */
  async start(jobDir: string): Promise<void> {
    const socket = await this.connect(true);
    socket.write(`${JSON.stringify({ op: 'start', jobDir })}\n`);
  }

  /** Asks the host to kill a job's tree. Rejects when no host runs (the caller kills it itself). */
  async kill(jobDir: string): Promise<void> {
    const socket = await this.connect(false);
    socket.write(`${JSON.stringify({ op: 'kill', jobDir })}\n`);
  }

  /** Is the host recorded in the state directory alive (same boot, pid and start time)? */
  hostAlive(): boolean {
    const info = this.readInfo();
    if (!info) return false;
    if (info.bootId !== null && info.bootId !== bootId()) return false;
    return isSameProcess(info.pid, info.startTime);
  }

  /** Runs `fn` when the connection to the host ends and the host is gone. */
  onGone(fn: () => void): () => void {
    this.goneListeners.add(fn);
    return () => this.goneListeners.delete(fn);
  }

  /** Drops the connection; the host exits once its jobs have ended. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private readInfo(): HostInfo | undefined {
    try {
      return readJsonFile(this.infoFile) as HostInfo | undefined;
    } catch {
      return undefined;
    }
  }

  private connect(launch: boolean): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return (this.connecting ??= (async () => {
      try {
        if (!this.hostAlive()) {
          if (!launch) throw new Error('no supervisor host runs');
          await this.launch();
        }
        const socket = await openSocket(this.socketPath);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          if (this.socket === socket) this.socket = undefined;
          // A closed connection is not a dead host: our own close(), or a hiccup.
          if (!this.closed && !this.hostAlive()) for (const fn of [...this.goneListeners]) fn();
        });
        socket.unref(); // the agent's own loops keep it alive, not this connection
        this.socket = socket;
        this.closed = false;
        return socket;
      } finally {
        this.connecting = undefined;
      }
    })());
  }

  /** Starts a host, detached (own session, stdio to supervisor-host.log), and waits for its "ready". */
  private async launch(): Promise<void> {
    const logFd = openSync(join(this.stateDir, 'supervisor-host.log'), 'a', 0o600);
    let child;
    try {
      child = spawn(
        process.execPath,
        ['--max-semi-space-size=1', SUPERVISOR_HOST_SCRIPT, this.stateDir],
        // An empty environment: a job's NODE_OPTIONS (or the agent's) cannot affect the host.
        { cwd: this.stateDir, detached: true, stdio: ['ignore', logFd, logFd, 'pipe'], env: {} },
      );
    } finally {
      closeSync(logFd);
    }
    const ready = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    try {
      await new Promise<void>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(
          () =>
            reject(new Error(`the supervisor host did not start within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        );
        ready.setEncoding('utf8');
        ready.on('data', (d: string) => {
          text += d;
          if (text.includes('ready\n')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `the supervisor host exited at start (code ${code}); see ${join(this.stateDir, 'supervisor-host.log')}`,
            ),
          );
        });
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      ready.destroy();
      child.unref();
    }
  }
}

function openSocket(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
