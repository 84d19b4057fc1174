/**
 * Request rate per credential: a token bucket per key that refills at `ratePerSec` and holds
 * two seconds' worth, so a client may burst briefly but not sustain more than the rate.
 * Buckets live in memory (per server: with several servers behind a balancer each enforces
 * its own share) and idle ones are dropped.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(private readonly ratePerSec: number) {
    this.burst = Math.max(1, ratePerSec * 2);
  }

  /** Takes a token for `key`: 0 when the request may go, else the seconds until it may. */
  take(key: string, nowMs: number): number {
    if (this.ratePerSec <= 0) return 0;
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= 10_000) this.prune(nowMs);
      b = { tokens: this.burst, at: nowMs };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.ratePerSec);
      b.at = nowMs;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.ratePerSec;
  }

  /** Buckets idle long enough to be full again carry no state worth keeping. */
  private prune(nowMs: number): void {
    const fullAfterMs = (this.burst / this.ratePerSec) * 1000;
    for (const [k, b] of this.buckets) if (nowMs - b.at > fullAfterMs) this.buckets.delete(k);
  }
}

/** Counts open streams per credential against a cap. */
export class StreamQuota {
  private readonly open = new Map<string, number>();

  constructor(private readonly perKey: number) {}

  /** Reserves a stream for `key`; returns the release function, or null when at the cap. */
  acquire(key: string): (() => void) | null {
    const n = this.open.get(key) ?? 0;
    if (n >= this.perKey) return null;
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }
}
