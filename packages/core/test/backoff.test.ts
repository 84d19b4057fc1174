import { backoffDelayMs, DEFAULT_BACKOFF, type Backoff } from '@offload/core';
import { describe, expect, it } from 'vitest';

describe('backoffDelayMs', () => {
  it('defaults to exponential, 5 s doubling to 300 s', () => {
    expect(DEFAULT_BACKOFF).toEqual({ type: 'exponential', delaySec: 5, maxDelaySec: 300 });
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelayMs(DEFAULT_BACKOFF, a) / 1000);
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 300, 300]);
  });

  it('fixed: the same delay after every attempt', () => {
    const b: Backoff = { type: 'fixed', delaySec: 7, maxDelaySec: 300 };
    expect([1, 2, 10, 99].map((a) => backoffDelayMs(b, a))).toEqual([7_000, 7_000, 7_000, 7_000]);
  });

  it('fixed: capped at maxDelaySec', () => {
    expect(backoffDelayMs({ type: 'fixed', delaySec: 10, maxDelaySec: 4 }, 1)).toBe(4_000);
  });

  it('exponential: capped at maxDelaySec, which may be the delay itself', () => {
    const b: Backoff = { type: 'exponential', delaySec: 1, maxDelaySec: 10 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(b, a))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
    expect(backoffDelayMs({ type: 'exponential', delaySec: 3, maxDelaySec: 3 }, 5)).toBe(3_000);
  });

  it('handles fractional delays and an attempt below 1 as the first', () => {
    expect(backoffDelayMs({ type: 'exponential', delaySec: 0.5, maxDelaySec: 300 }, 2)).toBe(1_000);
    expect(backoffDelayMs(DEFAULT_BACKOFF, 0)).toBe(5_000);
  });

  it('a zero delay is zero at any attempt, never NaN', () => {
    expect(backoffDelayMs({ type: 'fixed', delaySec: 0, maxDelaySec: 0 }, 3)).toBe(0);
    expect(backoffDelayMs({ type: 'exponential', delaySec: 0, maxDelaySec: 300 }, 1)).toBe(0);
    expect(backoffDelayMs({ type: 'exponential', delaySec: 0, maxDelaySec: 300 }, 5_000)).toBe(0);
  });

  it('a huge attempt number stays at the cap', () => {
    expect(backoffDelayMs(DEFAULT_BACKOFF, 5_000)).toBe(300_000);
  });
});
