import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseStream {
  send(event: string, data: string): void;
  close(): void;
  readonly closed: boolean;
}

const KEEPALIVE_MS = 15_000;

/**
 * Takes over the response for Server-Sent Events. A comment line every 15 s keeps proxies
 * from closing an idle stream; `onClose` runs once, whether the client or the server ends it.
 */
export function openSse(request: FastifyRequest, reply: FastifyReply, onClose: () => void): SseStream {
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
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    onClose();
  };
  request.raw.once('close', finish);
  res.once('close', finish);
  return {
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
}
