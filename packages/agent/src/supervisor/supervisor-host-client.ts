import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonFile, type ExitInfo, type JobSpec, type SupervisorInfo } from './job-files.js';
import { bootId, isSameProcess } from './proc.js';

/** The host script beside this module: src/ under vitest, dist/ once built. */
export const SUPERVISOR_HOST_SCRIPT = fileURLToPath(
  new URL('./supervisor-host.js', import.meta.url),
);

const READY_TIMEOUT_MS = 10_000;
/** The protocol this client speaks (supervisor-host.js HOST_PROTOCOL). */
const HOST_PROTOCOL = 3;

interface HostInfo {
  pid: number;
  startTime: number | null;
  bootId: string | null;
  socket: string;
  /** Absent: a host of an earlier version (files only, no events). */
  protocol?: number;
}

/** What the host tells about a job it started for this connection. */
export type HostEvent =
  | { ev: 'spawned'; jobDir: string; info: SupervisorInfo }
  | { ev: 'output'; jobDir: string }
  | { ev: 'exit'; jobDir: string; exit: ExitInfo; outputBytes: number };

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
  /** Jobs started through the host, by job directory, with the connection their events use. */
  private readonly jobListeners = new Map<
    string,
    { socket: net.Socket; fn: (event: HostEvent) => void }
  >();
  /** How many of those use each connection: it keeps the process alive while any does. */
  private readonly jobsOn = new WeakMap<net.Socket, number>();
  private closed = false;
  /** The protocol of the host `socket` is connected to (from supervisor-host.json). */
  private socketProtocol: number | undefined;

  constructor(private readonly stateDir: string) {
    this.socketPath = join(stateDir, 'supervisor.sock');
    this.infoFile = join(stateDir, 'supervisor-host.json');
  }

  /**
   * Connects to the host, starting one first if none runs. Rejects when no host can be used,
   * also when the one that runs speaks another protocol: a host of an earlier version still
   * running jobs after an upgrade. A connection to it (made to kill a re-attached job) is
   * dropped, so it exits once those jobs end; until then the caller starts per-job supervisors.
   */
  async ready(): Promise<void> {
    const socket = await this.connect(true);
    if (this.socketProtocol === HOST_PROTOCOL) return;
    if (this.socket === socket) this.socket = undefined;
    socket.destroy();
    throw this.otherProtocol();
  }

  private otherProtocol(): Error {
    return new Error(
      `the running supervisor host (pid ${this.readInfo()?.pid}) speaks another protocol`,
    );
  }

  /**
   * Asks the connected host (see `ready()`) to supervise a prepared job directory with this
   * spec and environment; `listener` gets the job's events until the returned function is
   * called. Throws when the connection is gone.
   */
  start(
    jobDir: string,
    spec: JobSpec,
    env: Record<string, string>,
    listener: (event: HostEvent) => void,
  ): () => void {
    const socket = this.socket;
    if (!socket || socket.destroyed) throw new Error('not connected to the supervisor host');
    const entry = { socket, fn: listener };
    this.jobListeners.set(jobDir, entry);
    // Referenced while it has jobs to report: the events are what the caller waits for.
    this.jobsOn.set(socket, (this.jobsOn.get(socket) ?? 0) + 1);
    socket.ref();
    socket.write(`${JSON.stringify({ op: 'start', jobDir, spec, env })}\n`);
    return () => {
      if (this.jobListeners.get(jobDir) !== entry) return;
      this.jobListeners.delete(jobDir);
      const left = (this.jobsOn.get(socket) ?? 1) - 1;
      this.jobsOn.set(socket, left);
      if (left === 0) socket.unref();
    };
  }

  /**
   * Tells the host that the outcome of the job in `jobDir` is recorded: what of its records the
   * host has not written yet it never writes. Nothing when not connected (it then writes them).
   */
  release(jobDir: string): void {
    const socket = this.socket;
    if (socket && !socket.destroyed) socket.write(`${JSON.stringify({ op: 'release', jobDir })}\n`);
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

  private readEvents(socket: net.Socket): void {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      buf += data;
      let start = 0;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n', start)) {
        const line = buf.slice(start, nl);
        start = nl + 1;
        let event: HostEvent;
        try {
          event = JSON.parse(line) as HostEvent;
        } catch {
          continue; // not ours; the job directory still tells
        }
        this.jobListeners.get(event.jobDir)?.fn(event);
      }
      buf = buf.slice(start);
    });
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
        const protocol = this.readInfo()?.protocol;
        if (launch && protocol !== HOST_PROTOCOL) throw this.otherProtocol();
        const socket = await openSocket(this.socketPath);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          if (this.socket === socket) this.socket = undefined;
          // Events for these jobs would come on this connection only; their runs fall back to
          // reading the job directories (and notice a dead host through onGone).
          for (const [dir, e] of this.jobListeners)
            if (e.socket === socket) this.jobListeners.delete(dir);
          // A closed connection is not a dead host: our own close(), or a hiccup.
          if (!this.closed && !this.hostAlive()) for (const fn of [...this.goneListeners]) fn();
        });
        this.readEvents(socket);
        socket.unref(); // the agent's own loops keep it alive, not this connection
        this.socket = socket;
        this.socketProtocol = protocol;
        this.closed = false;
        return socket;
      } finally {
        this.connecting = undefined;
      }
    })());
  }

  /** Starts a host, detached (own session, stdio to supervisor-host.log), and waits for its "ready". */
  private async launch(): Promise<void> {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 }); // the host's cwd and socket's home
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
