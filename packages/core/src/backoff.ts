import type { Backoff } from './records.js';

export const DEFAULT_BACKOFF: Backoff = { type: 'exponential', delaySec: 5, maxDelaySec: 300 };

/**
 * Delay before attempt `failedAttempt + 1`, after attempt `failedAttempt` (1-based) failed.
 * Fixed: `delaySec` every time. Exponential: `delaySec * 2^(failedAttempt-1)`, capped at `maxDelaySec`.
 */
export function backoffDelayMs(backoff: Backoff, failedAttempt: number): number {
  const base = backoff.delaySec * 1000;
  // 0 × 2^n is NaN once 2^n overflows to Infinity.
  if (base === 0) return 0;
  const raw = backoff.type === 'fixed' ? base : base * 2 ** Math.max(0, failedAttempt - 1);
  return Math.min(raw, backoff.maxDelaySec * 1000);
}
