import { Offload, type FetchLike } from '@offload/client/browser';

/** Each attempt to open the event stream, as its answer comes: ok or not. */
export type StreamAttemptListener = (ok: boolean) => void;

/**
 * The SDK's browser client plus what the dashboard needs on top:
 * - `onStreamAttempt()`: the SDK reconnects a dropped event stream by itself and says nothing;
 *   the dashboard wants to know, to show "Reconnecting…" and to reload what it shows once the
 *   stream is back (events during a gap are not replayed). The client's `fetch` is wrapped to
 *   see every request for the event stream and how it was answered.
 */
export class DashboardClient extends Offload {
  private readonly attemptListeners: Set<StreamAttemptListener>;

  constructor(options: { url: string; apiKey: string }) {
    const listeners = new Set<StreamAttemptListener>();
    const g = globalThis as unknown as { fetch: FetchLike };
    const fetch: FetchLike = async (input, init) => {
      const isStream = new URL(input, options.url).pathname === '/api/v1/events';
      try {
        const res = await g.fetch(input, init);
        if (isStream) for (const l of listeners) l(res.status >= 200 && res.status < 300);
        return res;
      } catch (err) {
        if (isStream && !init.signal.aborted) for (const l of listeners) l(false);
        throw err;
      }
    };
    super({ ...options, fetch });
    this.attemptListeners = listeners;
  }

  onStreamAttempt(listener: StreamAttemptListener): () => void {
    this.attemptListeners.add(listener);
    return () => this.attemptListeners.delete(listener);
  }
}
