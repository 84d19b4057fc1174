import { abortTimer } from './abort-timer.js';
import {
  normalizeBaseUrl,
  TransportTimeoutError,
  type FetchLike,
  type FetchResponseLike,
  type Transport,
  type TransportResponse,
} from './transport.js';

/** Options of the fetch transport. */
export interface FetchTransportOptions {
  url: string;
  /** The `fetch` to call; default the global one. */
  fetch?: FetchLike | undefined;
}

/**
 * The browser transport, over `fetch`. It imports nothing from Node, so bundlers can ship it;
 * in Node, prefer the undici transport (the default of `@offload/client`), which costs far
 * less CPU per request.
 */
export function createFetchTransport(options: FetchTransportOptions): Transport {
  const url = normalizeBaseUrl(options.url);
  const fetchFn = options.fetch ?? globalFetch();
  return {
    url,
    timesRequests: true,
    async request(req): Promise<TransportResponse> {
      // fetch has no timeout of its own: a timer aborts the request, and then its body's
      // read (it runs until the body is read).
      const ms = req.timeoutMs;
      const timer = ms === undefined ? null : abortTimer(ms, req.signal);
      const failed = (err: unknown): never => {
        timer?.release();
        throw ms !== undefined && timer?.timedOut()
          ? new TransportTimeoutError(ms, { cause: err })
          : err;
      };
      const res = await fetchFn(url + req.path, {
        method: req.method,
        headers: req.headers,
        // Always one: a FetchLike may rely on it (the SDK always times its requests).
        signal: timer?.signal ?? req.signal ?? new AbortController().signal,
        ...(req.body !== undefined && { body: req.body }),
      }).catch(failed);
      return {
        status: res.status,
        header: (name) => res.headers.get(name) ?? undefined,
        text: async () => {
          const text = await res.text().catch(failed);
          timer?.release();
          return text;
        },
        chunks: () => readChunks(res),
      };
    },
    async close() {
      // fetch pools connections itself; there is nothing of ours to close.
    },
  };
}

function globalFetch(): FetchLike {
  const g = globalThis as { fetch?: unknown };
  if (typeof g.fetch !== 'function') {
    throw new TypeError('no global fetch in this runtime; pass `fetch` in the options');
  }
  // Called through globalThis: browsers refuse a detached `window.fetch` ("Illegal invocation").
  return (input, init) => (g.fetch as FetchLike)(input, init);
}

/** The body as an async iterable without relying on ReadableStream's (not universal) iterator. */
async function* readChunks(res: FetchResponseLike): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        return;
      }
      if (r.value) yield r.value;
    }
  } finally {
    // Stopped early (break, return, error): cancel, which closes the connection.
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
