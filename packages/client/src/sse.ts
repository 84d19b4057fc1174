/** One Server-Sent Event. `event` is `message` when the server named none. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string | undefined;
  /** The reconnection delay the server asked for, when this block carried one. */
  retryMs?: number | undefined;
}

/**
 * Parses a `text/event-stream` body (WHATWG HTML §9.2) into events: lines end in LF, CRLF or
 * CR (even split across chunks), `:` lines are comments (the server's keep-alives), several
 * `data:` lines join with `\n`, and a block without data dispatches nothing.
 */
export async function* parseSse(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  let retryMs: number | undefined;

  const line = (text: string): SseEvent | undefined => {
    if (text === '') {
      const out =
        data.length > 0
          ? { event: event || 'message', data: data.join('\n'), id, retryMs }
          : retryMs !== undefined
            ? { event: '', data: '', id, retryMs }
            : undefined;
      data = [];
      event = '';
      retryMs = undefined;
      return out;
    }
    if (text.startsWith(':')) return undefined;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
    return undefined;
  };

  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR at the end of the chunk may be the first half of a CRLF: wait for the next chunk.
      if (c === 13 && i + 1 === buffer.length) break;
      const ev = line(buffer.slice(start, i));
      if (c === 13 && buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
      if (ev) yield ev;
    }
    buffer = buffer.slice(start);
  }
}

/** No byte arrived on a stream for longer than its idle limit: the connection is presumed dead. */
export class StreamIdleError extends Error {
  constructor(ms: number) {
    super(`no data for ${ms} ms on the event stream (the server sends a keep-alive every 15 s)`);
    this.name = 'StreamIdleError';
  }
}

/**
 * Passes chunks through, failing with {@link StreamIdleError} when none arrives for `ms`. A
 * half-open connection (a laptop that slept, a NAT that forgot the flow) otherwise looks like a
 * quiet stream forever; the server's 15 s keep-alive comments make silence a reliable signal.
 */
export async function* withIdleTimeout<T>(source: AsyncIterable<T>, ms: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = it.next();
      // If the timer wins, the read is abandoned and later rejects when the stream is closed.
      next.catch(() => undefined);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StreamIdleError(ms)), ms);
      });
      let r: IteratorResult<T>;
      try {
        r = await Promise.race([next, idle]);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // Not awaited: a read may still be pending; closing the request (its abort signal) ends it.
    if (!finished) void it.return?.()?.catch(() => undefined);
  }
}
