import { useCallback, useEffect, useRef, useState } from 'react';

export type AsyncState<T> =
  | { status: 'loading'; data?: undefined; error?: undefined }
  | { status: 'ok'; data: T; error?: undefined }
  | { status: 'error'; data?: T | undefined; error: unknown };

/**
 * Loads data once per change of `deps` and on `reload()`; `setData` lets live events patch it.
 * A reload keeps showing the previous data (no flash of the loading state).
 */
export function useAsync<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): AsyncState<T> & { reload: () => void; setData: (update: (prev: T) => T) => void } {
  const [state, setState] = useState<AsyncState<T>>({ status: 'loading' });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let current = true;
    loadRef.current().then(
      (data) => current && setState({ status: 'ok', data }),
      (error: unknown) => current && setState((s) => ({ status: 'error', data: s.data, error })),
    );
    return () => {
      current = false;
    };
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback(
    (update: (prev: T) => T) =>
      setState((s) => (s.status === 'ok' ? { status: 'ok', data: update(s.data) } : s)),
    [],
  );
  return { ...state, reload, setData };
}

/** Runs `fn` at most once per `ms`, trailing: for reloads triggered by bursts of events. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      fnRef.current();
    }, ms);
  }, [ms]);
}
