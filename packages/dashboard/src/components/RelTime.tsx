import { useNow } from '../hooks/use-now';
import { absoluteTime, relativeTime } from '../lib/format';

/** "2 min ago", with the absolute time on hover (and for screen readers, in `dateTime`). */
export function RelTime({ at }: { at: string | undefined }) {
  const now = useNow();
  if (!at) return <span className="muted">—</span>;
  return (
    <time dateTime={at} title={absoluteTime(at)}>
      {relativeTime(at, now)}
    </time>
  );
}
