import { OffloadApiError, type LiveStream, type OffloadEvent } from '@offload/client/browser';
import type { DashboardClient } from './dashboard-client';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';
type Listener = (event: OffloadEvent) => void;

/**
 * The app's one event stream (`GET /api/v1/events` through the SDK), fanned out to the pages.
 * The SDK reconnects a dropped stream with backoff by itself; the client tells us about every
 * attempt, so the status shows "Reconnecting…" while attempts fail, and every successful
 * reconnect asks the pages to reload (`onResync`): events during a gap are not replayed. A
 * stream that ends with an error the SDK does not retry (401: the key was revoked) closes.
 */
export class LiveEvents {
  private readonly listeners = new Set<Listener>();
  private readonly statusListeners = new Set<(s: LiveStatus) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly authLostListeners = new Set<(status: number) => void>();
  private stream: LiveStream<OffloadEvent> | undefined;
  private readonly stopWatching: () => void;
  private connections = 0;
  status: LiveStatus = 'connecting';

  constructor(private readonly client: DashboardClient) {
    this.stopWatching = client.onStreamAttempt((ok) => {
      if (this.status === 'closed') return;
      if (!ok) {
        if (this.connections > 0) this.setStatus('reconnecting');
        return;
      }
      this.connections++;
      this.setStatus('live');
      if (this.connections > 1) for (const l of this.resyncListeners) l();
    });
    void this.run();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStatus(listener: (s: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** The server stopped accepting the key (revoked or expired while signed in): 401 or 403. */
  onAuthLost(listener: (status: number) => void): () => void {
    this.authLostListeners.add(listener);
    return () => this.authLostListeners.delete(listener);
  }

  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  close(): void {
    this.setStatus('closed');
    this.stopWatching();
    void this.stream?.close();
  }

  /** A method, not a comparison TypeScript narrows: close() changes the status during an await. */
  private closed(): boolean {
    return this.status === 'closed';
  }

  private setStatus(s: LiveStatus): void {
    if (this.status === s) return;
    this.status = s;
    for (const l of this.statusListeners) l(s);
  }

  /**
   * Reads the stream until it ends. The SDK ends it only on an error it will not retry: an
   * auth error (the key was revoked: stay closed) or a first connection that failed after its
   * retries (the server is down: try again with a backoff, up to a minute apart).
   */
  private async run(): Promise<void> {
    for (let failures = 0; !this.closed(); failures++) {
      this.stream = this.client.events({});
      try {
        for await (const event of this.stream) for (const l of this.listeners) l(event);
      } catch (err) {
        if (err instanceof OffloadApiError && (err.status === 401 || err.status === 403)) {
          this.setStatus('closed');
          this.stopWatching();
          const status: number = err.status;
          for (const l of this.authLostListeners) l(status);
          return;
        }
      }
      if (this.closed()) return;
      this.setStatus('reconnecting');
      await new Promise((r) => setTimeout(r, Math.min(60_000, 1_000 * 2 ** failures)));
    }
    this.setStatus('closed');
    this.stopWatching();
  }
}
