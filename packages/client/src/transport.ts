/**
 * What the SDK needs from HTTP, and no more: one request, a status, headers, and the body as
 * text or as a stream of bytes. `transport-undici.ts` (Node) and `transport-fetch.ts`
 * (browsers, or any `fetch`) implement it; everything else is shared and transport-agnostic.
 */
export interface Transport {
  /** The server's base URL, without a trailing slash (`http://127.0.0.1:7070`). */
  readonly url: string;
  /**
   * Honours `TransportRequest.timeoutMs`. Without it the SDK times each request itself, with
   * an AbortSignal and a timer of its own per request (for transports written before it).
   */
  readonly timesRequests?: boolean;
  /**
   * Sends one request. Rejects only when no response arrived (the SDK maps that to a network
   * error), or with a {@link TransportTimeoutError} when `timeoutMs` ran out.
   */
  request(req: TransportRequest): Promise<TransportResponse>;
  /** Closes idle keep-alive connections. Requests after close fail. */
  close(): Promise<void>;
}

export interface TransportRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** The path and query, starting with `/`, appended to the base URL. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Aborts the request and, after the headers, the body. */
  signal?: AbortSignal | undefined;
  /**
   * No response headers within this long, or the body silent this long: the request (or the
   * body's `text()`) rejects with a {@link TransportTimeoutError}. Unset: no timeout of the
   * transport's own (a stream, which its caller times and closes).
   */
  timeoutMs?: number | undefined;
  /** A stream held open for a long time (SSE): no idle body timeout in the transport. */
  stream?: boolean;
}

/** A request's `timeoutMs` ran out in the transport. */
export class TransportTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`no answer within ${timeoutMs} ms`, options);
    this.name = 'TransportTimeoutError';
  }
}

export interface TransportResponse {
  status: number;
  /** A response header by lower-case name. */
  header(name: string): string | undefined;
  /** The whole body as text. */
  text(): Promise<string>;
  /** The body as it arrives. Breaking out of the loop releases the connection. */
  chunks(): AsyncIterable<Uint8Array>;
}

/**
 * A `fetch` as the SDK calls it: the global one (browsers, Node ≥ 18, Deno, Bun, workers) or
 * any compatible function (a test double, a proxy-aware fetch). Structural, so it needs no
 * DOM or undici types.
 */
export type FetchLike = (
  input: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal: AbortSignal;
  },
) => Promise<FetchResponseLike>;

export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  body: {
    getReader(): {
      read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
      cancel(reason?: unknown): Promise<void>;
      releaseLock(): void;
    };
  } | null;
}

/** `http://host:7070/` → `http://host:7070`; refuses what is not an http(s) URL. */
export function normalizeBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new TypeError(`url: "${url}" is not a URL; write it like http://127.0.0.1:7070`, {
      cause: err,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`url: "${url}" must start with http:// or https://`);
  }
  parsed.search = '';
  parsed.hash = '';
  return parsed.toString().replace(/\/+$/, '');
}

/**
 * Whether a transport error happened before any byte of the request could have reached the
 * server (connection refused, name not resolved, host unreachable, connect timeout). Only then
 * is a non-idempotent request safe to send again. Looks through `cause` and AggregateError
 * (Node's happy-eyeballs connect), as undici and fetch wrap the socket error differently.
 */
export function failedBeforeSending(err: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e == null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_CODES.has(code)) return true;
    stack.push((e as { cause?: unknown }).cause);
    if (e instanceof AggregateError) stack.push(...(e.errors as unknown[]));
  }
  return false;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
