import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '@offload/protocol';

export interface SseStream {
  send(event: string, data: string): void;
  close(): void;
  readonly closed: boolean;
}

const KEEPALIVE_MS = 15_000;

/** Open streams by HTTP server: closing the app ends them, else `server.close()` waits on them forever. */
const openStreams = new WeakMap<object, Set<SseStream>>();

/** Ends every event stream open on this HTTP server (app close: before in-flight requests are awaited). */
export function closeSseStreams(server: object): void {
  for (const stream of [...(openStreams.get(server) ?? [])]) stream.close();
}

/**
 * Takes over the response for Server-Sent Events. A comment line every 15 s keeps proxies
 * from closing an idle stream; `onClose` runs once, whether the client or the server ends it.
 */
export function openSse(
  request: FastifyRequest,
  reply: FastifyReply,
  onClose: () => void,
): SseStream {
  // Every open stream holds a socket and a subscription: a cap per credential (streamsPerKey).
  const principal = request.principal;
  const release = principal
    ? request.server.offload.limits.streams.acquire(principal.credentialId)
    : () => undefined;
  if (!release) {
    onClose(); // the caller subscribed before opening the stream
    throw new ApiError(
      'RATE_LIMITED',
      `this credential has ${request.server.offload.config.streamsPerKey} event or log streams open, the most allowed (streamsPerKey); close one first`,
      { details: { retryAfterSec: 5 } },
    );
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': offload event stream\n\n');
  let closed = false;
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  let streams = openStreams.get(request.server.server);
  if (!streams) openStreams.set(request.server.server, (streams = new Set()));
  const open = streams;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    open.delete(stream);
    release();
    onClose();
  };
  request.raw.once('close', finish);
  res.once('close', finish);
  const stream: SseStream = {
    send(event, data) {
      if (closed) return;
      // Multi-line data must be split into several data: lines.
      res.write(`event: ${event}\ndata: ${data.replace(/\r?\n/g, '\ndata: ')}\n\n`);
    },
    close() {
      finish();
      res.end();
    },
    get closed() {
      return closed;
    },
  };
  open.add(stream);
  return stream;
}
