/**
 * Whether the store takes writes. A store that answers reads but refuses writes (SQLite on a
 * full disk, PostgreSQL out of disk) would pass a `SELECT 1` ping, so /readyz also asks
 * this: failing since a request or a sweep hit a store-unavailable error, healthy again after
 * the next successful write request (agents' heartbeats and syncs are a steady supply).
 */
export class StoreHealth {
  private failure: { code: string; since: number } | null = null;

  writeFailed(code: string, now: number): void {
    this.failure ??= { code, since: now };
  }

  writeSucceeded(): void {
    this.failure = null;
  }

  /** Why writes are failing, or null. */
  get problem(): { code: string; since: number } | null {
    return this.failure;
  }
}
