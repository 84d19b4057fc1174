import { useEffect, useState } from 'react';

/** The current time, re-rendering every `everyMs`: keeps "3 min ago" true. A local clock, no requests. */
export function useNow(everyMs = 10_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
