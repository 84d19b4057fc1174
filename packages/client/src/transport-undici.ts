import { Pool, type Dispatcher } from 'undici';
import {
  normalizeBaseUrl,
  TransportTimeoutError,
  type Transport,
  type TransportResponse,
} from './transport.js';

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
 * pays on every call. A request's timeout is undici's own header and body timers, which it
 * keeps per connection and refreshes: with an AbortSignal and a timer per request instead, as
 * the SDK made before, a request cost 114–151 µs of client CPU against 90–106 (20,000
 * sequential POSTs on loopback, 4 interleaved rounds). A stream has none (the SDK times its
 * headers and watches it for silence).
 */
export function createUndiciTransport(options: UndiciTransportOptions): Transport {
  const url = normalizeBaseUrl(options.url);
  const parsed = new URL(url);
  const prefix = parsed.pathname === '/' ? '' : parsed.pathname;
  const pool = new Pool(parsed.origin, {
    connections: options.connections ?? null,
    // Under the server's 75 s, so the client never sends on a socket the server is closing.
    keepAliveTimeout: 30_000,
  });
  return {
    url,
    timesRequests: true,
    async request(req): Promise<TransportResponse> {
      const timeoutMs = req.timeoutMs ?? 0;
      let res: Dispatcher.ResponseData;
      try {
        res = await pool.request({
          path: prefix + req.path,
          method: req.method,
          headers: req.headers,
          signal: req.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: req.stream ? 0 : timeoutMs,
          ...(req.body !== undefined && { body: req.body }),
        });
      } catch (err) {
        throw timeoutError(err, timeoutMs);
      }
      const body = res.body;
      return {
        status: res.statusCode,
        header(name) {
          const v = res.headers[name];
          return Array.isArray(v) ? v.join(', ') : v;
        },
        async text() {
          try {
            return await body.text();
          } catch (err) {
            throw timeoutError(err, timeoutMs);
          }
        },
        chunks: () => body,
      };
    },
    // Aborts what is still in flight (an open event stream would hold a graceful close forever).
    close: () => pool.destroy(),
  };
}

/** undici's header or body timer, as the transport's timeout error; any other error as is. */
function timeoutError(err: unknown, timeoutMs: number): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  return timeoutMs > 0 && (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    ? new TransportTimeoutError(timeoutMs, { cause: err })
    : err;
}
