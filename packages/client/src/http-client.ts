import { API_ERRORS } from '@offload/protocol';
import {
  OffloadError,
  OffloadNetworkError,
  OffloadTimeoutError,
  apiError,
  type OffloadApiError,
} from './errors.js';
import { abortTimer } from './abort-timer.js';
import { backoffDelayMs, parseRetryAfterMs, sleep } from './retry.js';
import {
  failedBeforeSending,
  TransportTimeoutError,
  type Transport,
  type TransportResponse,
} from './transport.js';

/** How requests are sent: timeout and retry policy. Every option has a default. */
export interface RequestPolicy {
  /**
   * Per request: the most to wait for the answer's headers, and for each part of its body;
   * default 30 000. Long polls add their hold time.
   */
  timeoutMs?: number | undefined;
  /** Retries after the first try (so `retries: 3` is at most 4 tries); default 3. */
  retries?: number | undefined;
  /** Base of the full-jitter exponential backoff; default 200 ms. */
  retryDelayMs?: number | undefined;
  /** Cap of one backoff delay; default 5 000 ms. */
  retryMaxDelayMs?: number | undefined;
}

type Query = Record<string, string | number | boolean | undefined>;

/** One API call. */
export interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under the server URL, e.g. `/api/v1/jobs`. */
  path: string;
  query?: Query | undefined;
  body?: unknown;
  /** Extra request headers (e.g. `last-event-id`). */
  headers?: Record<string, string> | undefined;
  /**
   * Safe to send twice. An idempotent call is retried after any network error or timeout; any
   * other call only when the failure came before the request could reach the server
   * (connection refused, DNS). 503 and 429 answers (the server did not apply the request) are
   * retried for every call.
   */
  idempotent: boolean;
  /** How long the server may legitimately hold the request (a long poll): added to the timeout. */
  holdMs?: number | undefined;
  /** Error statuses returned as a response rather than thrown (e.g. 503 for a readiness check). */
  accept?: readonly number[] | undefined;
  /** Overrides the client's `retries` for this call. */
  retries?: number | undefined;
  /** Aborts the call, including its retry waits; it rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** An open streaming response; `close()` aborts it and releases the connection. */
export interface OpenStream {
  response: TransportResponse;
  close(): void;
}

type Outcome<R> =
  | { ok: true; value: R }
  | { ok: false; error: unknown; retry: boolean; network?: boolean; delayMs?: number | undefined };

const JSON_HEADERS = { accept: 'application/json' } as const;
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The shared request engine over a {@link Transport}: JSON in and out, the bearer token,
 * per-request timeouts, error mapping to the typed errors, and retries with full-jitter
 * exponential backoff. Transport-agnostic: Node and browser entries differ only in the
 * transport they hand it.
 */
export class HttpClient {
  /** The bearer token sent with every request; settable (an agent swaps its join token for its secret). */
  token: string | undefined;
  readonly transport: Transport;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryMaxDelayMs: number;

  constructor(transport: Transport, token: string | undefined, options: RequestPolicy = {}) {
    this.transport = transport;
    this.token = token;
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, 30_000);
    this.retries = Math.floor(positive('retries', options.retries, 3, true));
    this.retryDelayMs = positive('retryDelayMs', options.retryDelayMs, 200, true);
    this.retryMaxDelayMs = positive('retryMaxDelayMs', options.retryMaxDelayMs, 5_000, true);
  }

  /** The server's base URL. */
  get url(): string {
    return this.transport.url;
  }

  /** Sends the call and parses the JSON answer. */
  async json<T>(call: Call): Promise<T> {
    return (await this.jsonWithStatus<T>(call)).body;
  }

  /** Sends the call; the JSON answer with its status (for routes where 200 and 202 differ). */
  async jsonWithStatus<T>(call: Call): Promise<{ status: number; body: T }> {
    return this.send(call, false, async (res) => {
      const text = await res.text();
      try {
        return { status: res.status, body: JSON.parse(text) as T };
      } catch (err) {
        throw new OffloadError(
          `${call.method} ${call.path}: the server at ${this.url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
          { cause: err },
        );
      }
    });
  }

  /** Sends the call and returns the body as text. */
  async text(call: Call): Promise<string> {
    return this.send(call, false, (res) => res.text());
  }

  /**
   * Opens a streaming response (SSE). The timeout covers the wait for the headers only; the
   * stream then stays open until it ends, `close()` is called, or `call.signal` aborts.
   */
  async open(call: Call): Promise<OpenStream> {
    return this.send(call, true, async (res, close) => ({ response: res, close }));
  }

  private async send<R>(
    call: Call,
    stream: boolean,
    read: (res: TransportResponse, close: () => void) => Promise<R>,
  ): Promise<R> {
    const retries = call.retries ?? this.retries;
    for (let attempt = 1; ; attempt++) {
      call.signal?.throwIfAborted();
      const outcome = await this.once(call, stream, read);
      if (outcome.ok) return outcome.value;
      if (call.signal?.aborted) throw call.signal.reason;
      const last = !outcome.retry || attempt > retries;
      if (last) {
        throw outcome.network
          ? new OffloadNetworkError(this.url, attempt, outcome.error)
          : outcome.error;
      }
      await sleep(
        outcome.delayMs ?? backoffDelayMs(attempt, this.retryDelayMs, this.retryMaxDelayMs),
        call.signal,
      );
    }
  }

  private async once<R>(
    call: Call,
    stream: boolean,
    read: (res: TransportResponse, close: () => void) => Promise<R>,
  ): Promise<Outcome<R>> {
    const timeoutMs = this.timeoutMs + (call.holdMs ?? 0);
    // The transport times the request when it can (its own timers cost less than a signal
    // and a timer per request: transport-undici.ts). A stream must be abortable by its
    // close() and is timed only until its headers, and a transport that does not time
    // requests gets the same: a controller and a timer of the SDK's own.
    const own = stream || !this.transport.timesRequests ? abortTimer(timeoutMs, call.signal) : null;
    let keepOpen = false;

    const failed = (err: unknown, answered: boolean): Outcome<R> => {
      if (call.signal?.aborted) return { ok: false, error: call.signal.reason, retry: false };
      if (own?.timedOut() || err instanceof TransportTimeoutError) {
        return {
          ok: false,
          error: new OffloadTimeoutError(
            `no answer from the offload server at ${this.url} within ${timeoutMs} ms (${call.method} ${call.path})`,
            timeoutMs,
            { cause: err },
          ),
          retry: call.idempotent,
        };
      }
      if (err instanceof OffloadError || isUsageError(err)) {
        return { ok: false, error: err, retry: false };
      }
      return {
        ok: false,
        error: err,
        network: true,
        retry: call.idempotent || (!answered && failedBeforeSending(err)),
      };
    };

    try {
      let res: TransportResponse;
      try {
        res = await this.transport.request({
          method: call.method,
          path: call.path + queryString(call.query),
          headers: { ...this.headers(call.body !== undefined), ...call.headers },
          signal: own?.signal ?? call.signal,
          ...(own === null && { timeoutMs }),
          ...(call.body !== undefined && { body: JSON.stringify(call.body) }),
          ...(stream && { stream: true }),
        });
      } catch (err) {
        return failed(err, false);
      }
      try {
        if (res.status >= 400 && !call.accept?.includes(res.status)) {
          const error = await this.errorFrom(res);
          const retry = res.status === 503 || res.status === 429;
          const after = parseRetryAfterMs(res.header('retry-after'));
          if (after !== undefined && after > MAX_RETRY_AFTER_MS)
            return { ok: false, error, retry: false };
          return { ok: false, error, retry, delayMs: after };
        }
        if (stream && own !== null) {
          own.stopTimer();
          keepOpen = true;
          const close = () => {
            own.release();
            own.abort(new Error('stream closed'));
          };
          return { ok: true, value: await read(res, close) };
        }
        return { ok: true, value: await read(res, () => undefined) };
      } catch (err) {
        keepOpen = false;
        return failed(err, true);
      }
    } finally {
      if (!keepOpen) own?.release();
    }
  }

  private headers(hasBody: boolean): Record<string, string> {
    return {
      ...JSON_HEADERS,
      ...(this.token !== undefined && { authorization: `Bearer ${this.token}` }),
      ...(hasBody && { 'content-type': 'application/json' }),
    };
  }

  /** The typed error for an error answer, from its `{error: {code, message, details}}` body. */
  private async errorFrom(res: TransportResponse): Promise<OffloadApiError> {
    const text = await res.text().catch(() => '');
    const requestId = res.header('x-request-id');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: a proxy's page, or an empty body
    }
    const e = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } })
      ?.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      return apiError({
        code: e.code,
        status: res.status,
        message: e.message,
        ...(e.details !== undefined && { details: e.details }),
        requestId,
      });
    }
    return apiError({
      code: codeForStatus(res.status),
      status: res.status,
      message: `the server at ${this.url} answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      requestId,
    });
  }
}

/** A request the transport refused to build (a header value with a newline): not the network. */
function isUsageError(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'UND_ERR_INVALID_ARG';
}

/** For an answer without an error body: the registry's code when one code has that status. */
function codeForStatus(status: number): string {
  const codes = Object.entries(API_ERRORS).filter(([, v]) => v.status === status);
  return codes.length === 1 && codes[0] ? codes[0][0] : `HTTP_${status}`;
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  zeroOk = false,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)) {
    throw new TypeError(
      `${name}: must be a ${zeroOk ? 'non-negative' : 'positive'} number, got ${value}`,
    );
  }
  return value;
}

/** A path segment (an id or name) made safe for the URL. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
