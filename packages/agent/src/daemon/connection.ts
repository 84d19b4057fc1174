import { AgentClient, OffloadApiError, OffloadNetworkError } from '@offload/client';
import { errMessage } from '../error-message.js';

export interface ConnectionOptions {
  servers: readonly string[];
  /** Full-jitter exponential backoff between reconnect attempts. */
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** Per request (long polls add their hold time). */
  requestTimeoutMs: number;
  log: (line: string) => void;
}

/** A failure worth retrying on another server or later: unreachable, timed out, 5xx, 429. */
export function isTransient(err: unknown): boolean {
  if (err instanceof OffloadNetworkError) return true;
  if (err instanceof OffloadApiError) return err.status >= 500 || err.status === 429;
  if (err instanceof Error && /timed? ?out|abort/i.test(err.name + err.message)) return true;
  return false;
}

/**
 * How long to wait before the next try, after `failures` transient failures in a row (the
 * last one `err`): full jitter, random in [0, min(max, base·2^n)]. The first retry goes to
 * the next server at once when there is one. A server that answered (503: its store is
 * away; 429) is alive and will serve again soon — a database outage of a few seconds
 * must not leave agents idle for the reconnect cap (15 s) after it ends — so its waits
 * stop growing at ANSWERED_MAX_MS.
 */
export function backoffDelay(
  failures: number,
  err: unknown,
  servers: number,
  opts: Pick<ConnectionOptions, 'reconnectBaseMs' | 'reconnectMaxMs'>,
  random: () => number = Math.random,
): number {
  if (failures === 1 && servers > 1) return 0;
  let cap = Math.min(opts.reconnectMaxMs, opts.reconnectBaseMs * 2 ** failures);
  if (err instanceof OffloadApiError) cap = Math.min(cap, ANSWERED_MAX_MS);
  return Math.floor(random() * cap);
}

/** The longest wait before retrying a server that answered with a 503 or 429. */
export const ANSWERED_MAX_MS = 2_000;

/**
 * One AgentClient per `--server` URL. `call` runs a request on the current server; on a
 * transient failure it moves to the next URL and retries after `backoffDelay`, until it
 * succeeds or `closed` is set.
 */
export class Connection {
  private readonly clients: AgentClient[];
  private current = 0;
  private failures = 0;
  closed = false;
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly opts: ConnectionOptions) {
    if (opts.servers.length === 0) throw new Error('no server URL given (--server URL)');
    this.clients = opts.servers.map(
      (url) =>
        // The daemon owns retries and failover: the client tries once.
        new AgentClient({ url, retries: 0, timeoutMs: opts.requestTimeoutMs }),
    );
  }

  get url(): string {
    return this.client.url;
  }

  get client(): AgentClient {
    return this.clients[this.current]!;
  }

  setToken(token: string): void {
    for (const c of this.clients) c.token = token;
  }

  /** Runs `fn` until it succeeds; rethrows non-transient errors; throws `StoppedError` once closed. */
  async call<T>(what: string, fn: (c: AgentClient) => Promise<T>): Promise<T> {
    for (;;) {
      if (this.closed) throw new StoppedError();
      try {
        const out = await fn(this.client);
        if (this.failures > 0) this.opts.log(`connected to ${this.url}`);
        this.failures = 0;
        return out;
      } catch (err) {
        if (this.closed) throw new StoppedError();
        if (!isTransient(err)) throw err;
        const delay = backoffDelay(++this.failures, err, this.clients.length, this.opts);
        const from = this.url;
        this.current = (this.current + 1) % this.clients.length;
        if (this.failures === 1 || this.failures % 10 === 0)
          this.opts.log(
            `${what} failed on ${from}: ${errMessage(err)}; trying ${this.url} in ${delay} ms`,
          );
        await this.sleep(delay);
      }
    }
  }

  /** Once: no retry, no failover (a report that may go through the sync loop instead). */
  async once<T>(fn: (c: AgentClient) => Promise<T>): Promise<T> {
    return fn(this.client);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.sleepers]) s();
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
  }
}

export class StoppedError extends Error {
  override name = 'StoppedError';
  constructor() {
    super('the agent is stopping');
  }
}
