/**
 * Runs `n` calls of `fn` with `concurrency` in flight; returns each call's duration (ms).
 * @param {number} n
 * @param {number} concurrency
 * @param {() => Promise<unknown>} fn
 */
export async function timedLoops(n, concurrency, fn) {
  /** @type {number[]} */
  const ms = [];
  let next = 0;
  const loop = async () => {
    while (next < n) {
      next++;
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return ms;
}
