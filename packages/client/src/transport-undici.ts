import { Pool } from 'undici';
import { normalizeBaseUrl, type Transport, type TransportResponse } from './transport.js';

/** Options of the Node transport. */
export interface UndiciTransportOptions {
  url: string;
  /** Most sockets to the server at once; default unlimited (long polls and streams hold one each). */
  connections?: number;
}

/**
 * The Node transport: an undici `Pool` of keep-alive connections to the server. Measured on
 * the target machines, Node 20's global `fetch` costs 5.6× the client CPU per request and adds
 * ~0.3 ms of latency (docs: ARCHITECTURE "HTTP client"), which an agent or a submitting loop
 * pays on every call. Timeouts are the SDK's (per request, and an idle watchdog on streams),
 * so undici's own header and body timers are off: a 300 s long poll must not trip them.
 */
export function createUndiciTransport(options: UndiciTransportOptions): Transport {
  const url = normalizeBaseUrl(options.url);
  const parsed = new URL(url);
  const prefix = parsed.pathname === '/' ? '' : parsed.pathname;
  const pool = new Pool(parsed.origin, {
    connections: options.connections ?? null,
    // Under the server's 75 s, so the client never sends on a socket the server is closing.
    keepAliveTimeout: 30_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  return {
    url,
    async request(req): Promise<TransportResponse> {
      const res = await pool.request({
        path: prefix + req.path,
        method: req.method,
        headers: req.headers,
        signal: req.signal,
        ...(req.body !== undefined && { body: req.body }),
      });
      return {
        status: res.statusCode,
        header(name) {
          const v = res.headers[name];
          return Array.isArray(v) ? v.join(', ') : v;
        },
        text: () => res.body.text(),
        chunks: () => res.body,
      };
    },
    // Aborts what is still in flight (an open event stream would hold a graceful close forever).
    close: () => pool.destroy(),
  };
}
