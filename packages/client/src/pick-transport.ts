import { createFetchTransport } from './transport-fetch.js';
import type { Transport } from './transport.js';
import type { OffloadOptions } from './types.js';

/** Makes the transport an entry point defaults to (undici in Node, fetch in browsers). */
export type TransportFactory = (options: { url: string }) => Transport;

/** The transport for client options: theirs, else over their `fetch`, else the entry's default. */
export function pickTransport(
  options: { url: string; fetch?: OffloadOptions['fetch']; transport?: Transport | undefined },
  fallback: TransportFactory,
): Transport {
  if (options.transport) return options.transport;
  if (options.fetch) return createFetchTransport({ url: options.url, fetch: options.fetch });
  return fallback({ url: options.url });
}
