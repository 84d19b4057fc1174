/** A request's timeout as an AbortSignal, for what has no timer of its own. */
export interface AbortTimer {
  /** Aborts when the time runs out, when the caller's signal aborts, or on `abort()`. */
  readonly signal: AbortSignal;
  /** Whether the time ran out (rather than the caller aborting). */
  timedOut(): boolean;
  /** Stops the timer; the caller's signal still aborts. */
  stopTimer(): void;
  /** Stops the timer and stops following the caller's signal. */
  release(): void;
  /** Aborts now, with `reason` (an open stream's close). */
  abort(reason: unknown): void;
}

/**
 * A signal that aborts after `ms` or with `outer` (the caller's): the fetch transport's
 * timeout, and the SDK's for a stream or a transport that does not time requests. Browser-safe.
 */
export function abortTimer(ms: number, outer: AbortSignal | undefined): AbortTimer {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${ms} ms`));
  }, ms);
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  const stopTimer = () => clearTimeout(timer);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    stopTimer,
    release() {
      stopTimer();
      outer?.removeEventListener('abort', onAbort);
    },
    abort: (reason) => controller.abort(reason),
  };
}
