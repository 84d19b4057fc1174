import {
  normalizeBaseUrl,
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
    async request(req): Promise<TransportResponse> {
      const res = await fetchFn(url + req.path, {
        method: req.method,
        headers: req.headers,
        signal: req.signal,
        ...(req.body !== undefined && { body: req.body }),
      });
      return {
        status: res.status,
        header: (name) => res.headers.get(name) ?? undefined,
        text: () => res.text(),
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
