import {
  OffloadApiError,
  OffloadError,
  OffloadNetworkError,
  OffloadTimeoutError,
} from './errors.js';
import type { Call, HttpClient, OpenStream } from './http-client.js';
import { backoffDelayMs, sleep } from './retry.js';
import { parseSse, withIdleTimeout, type SseEvent } from './sse.js';

/** Options of a live stream (events, log follow). */
export interface StreamOptions {
  /** Aborting it ends the iteration, like `close()`. */
  signal?: AbortSignal | undefined;
  /**
   * No byte for this long means the connection is dead: drop it and reconnect. Default 45 000
   * (three of the server's 15 s keep-alives).
   */
  idleTimeoutMs?: number | undefined;
}

/**
 * An async iterator over a live stream that survives drops. `close()` (or `break` in a
 * `for await`, or the signal) closes the connection.
 */
export interface LiveStream<T> extends AsyncIterableIterator<T> {
  /**
   * Opens the connection now instead of on the first `next()`, resolving once the server has
   * subscribed it: whatever happens after that is delivered.
   */
  connect(): Promise<void>;
  /** Closes the connection; the iteration ends. */
  close(): Promise<void>;
}

/** What the subscription makes of one event: a value to yield, nothing, or the end. */
export type SseHandling<T> = { value: T } | 'skip' | 'end';

export interface SseSubscriptionInit<T> extends StreamOptions {
  http: HttpClient;
  call: Omit<Call, 'signal' | 'idempotent' | 'method'>;
  /** Called after every successful (re)connect, before its first event. */
  onConnect?: () => void;
  handle: (event: SseEvent) => SseHandling<T>;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The reconnecting SSE iterator behind `events()` and `logs(id, {follow: true})`.
 *
 * The first connection follows the client's retry policy and throws like any call (server down:
 * {@link OffloadNetworkError}). After it has been open, a drop (network error, idle timeout, the
 * server closing the stream, 503) reconnects with full-jitter backoff for as long as the
 * iterator is open, honouring the server's `retry:` and sending `Last-Event-ID` when events
 * carry ids. An error answer that retrying cannot fix (401, 403, 404) ends it by throwing.
 */
export class SseSubscription<T> implements LiveStream<T> {
  private readonly init: SseSubscriptionInit<T>;
  private readonly controller = new AbortController();
  private conn: { stream: OpenStream; events: AsyncIterator<SseEvent> } | undefined;
  private connecting: Promise<void> | undefined;
  private connectedOnce = false;
  private finished = false;
  private failures = 0;
  private lastEventId: string | undefined;
  private serverRetryMs: number | undefined;
  private readonly onSignal = () => void this.close();

  constructor(init: SseSubscriptionInit<T>) {
    this.init = init;
    if (init.signal?.aborted) this.finished = true;
    init.signal?.addEventListener('abort', this.onSignal, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  connect(): Promise<void> {
    if (this.finished) return Promise.resolve();
    if (this.conn) return Promise.resolve();
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async next(): Promise<IteratorResult<T>> {
    try {
      return await this.step();
    } catch (err) {
      // Closed meanwhile (close(), break, signal): the abort is not an error to the reader.
      const closed = this.finished;
      await this.close();
      if (closed) return DONE;
      throw err;
    }
  }

  private async step(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.finished) return DONE;
      await this.connect();
      const conn = this.conn;
      if (!conn) return DONE;
      let r: IteratorResult<SseEvent>;
      try {
        r = await conn.events.next();
      } catch (err) {
        if (this.finished) return DONE;
        this.drop();
        if (!(await this.pause(err))) return DONE;
        continue;
      }
      if (r.done) {
        // The server closed the stream (restart, shutdown) without saying it was over.
        this.drop();
        if (!(await this.pause(undefined))) return DONE;
        continue;
      }
      const ev = r.value;
      if (ev.id !== undefined) this.lastEventId = ev.id;
      if (ev.retryMs !== undefined) this.serverRetryMs = ev.retryMs;
      if (ev.event === '') continue;
      this.failures = 0;
      const out = this.init.handle(ev);
      if (out === 'skip') continue;
      if (out === 'end') {
        await this.close();
        return DONE;
      }
      return { done: false, value: out.value };
    }
  }

  async return(): Promise<IteratorResult<T>> {
    await this.close();
    return DONE;
  }

  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.init.signal?.removeEventListener('abort', this.onSignal);
    this.controller.abort(new Error('stream closed'));
    this.drop();
  }

  private drop(): void {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    conn.stream.close();
    void conn.events.return?.()?.catch(() => undefined);
  }

  /** Waits before a reconnect; false when the stream was closed meanwhile. Throws a lasting error. */
  private async pause(err: unknown): Promise<boolean> {
    if (err instanceof OffloadError && !isTransient(err)) throw err;
    this.failures++;
    const http = this.init.http;
    const delay = Math.max(
      this.serverRetryMs ?? 0,
      backoffDelayMs(this.failures, http.retryDelayMs, http.retryMaxDelayMs),
    );
    try {
      await sleep(delay, this.controller.signal);
      return !this.finished;
    } catch {
      return false;
    }
  }

  private async open(): Promise<void> {
    const first = !this.connectedOnce;
    for (;;) {
      let stream: OpenStream;
      try {
        stream = await this.init.http.open({
          ...this.init.call,
          method: 'GET',
          idempotent: true,
          signal: this.controller.signal,
          ...(this.lastEventId !== undefined && { headers: { 'last-event-id': this.lastEventId } }),
          // Reconnects retry here, forever, one try at a time; the first follows the client's policy.
          ...(!first && { retries: 0 }),
        });
      } catch (err) {
        if (this.finished) return;
        if (first) throw err;
        if (!(await this.pause(err))) return;
        continue;
      }
      if (this.finished) {
        stream.close();
        return;
      }
      const chunks = withIdleTimeout(stream.response.chunks(), this.init.idleTimeoutMs ?? 45_000);
      this.conn = { stream, events: parseSse(chunks) };
      this.connectedOnce = true;
      this.init.onConnect?.();
      return;
    }
  }
}

/**
 * SDK errors a reconnect can fix: the network, timeouts, 503 and 429. (Any other error while
 * reading — a reset, the idle watchdog — means the connection died, and is fixed by one too.)
 */
function isTransient(err: OffloadError): boolean {
  if (err instanceof OffloadApiError) return err.status === 503 || err.status === 429;
  return err instanceof OffloadNetworkError || err instanceof OffloadTimeoutError;
}
