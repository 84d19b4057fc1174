import { useEffect, useRef, useState } from 'react';
import type { AgentEvent, JobEvent, OffloadEvent } from '@offload/client/browser';
import type { LiveStatus } from '../lib/live-events';
import { useSession } from './use-session';

/** Calls `onEvent` for every live event (the latest callback, without resubscribing). */
export function useLiveEvents(onEvent: (event: OffloadEvent) => void): void {
  const { live } = useSession();
  const ref = useRef(onEvent);
  ref.current = onEvent;
  useEffect(() => live.subscribe((e) => ref.current(e)), [live]);
}

export function useJobEvents(onEvent: (event: JobEvent) => void): void {
  useLiveEvents((e) => {
    if ('job' in e) onEvent(e);
  });
}

export function useAgentEvents(onEvent: (event: AgentEvent) => void): void {
  useLiveEvents((e) => {
    if ('agent' in e) onEvent(e);
  });
}

/** Calls `reload` after the stream reconnects: events during the gap were not replayed. */
export function useResync(reload: () => void): void {
  const { live } = useSession();
  const ref = useRef(reload);
  ref.current = reload;
  useEffect(() => live.onResync(() => ref.current()), [live]);
}

export function useLiveStatus(): LiveStatus {
  const { live } = useSession();
  const [status, setStatus] = useState(live.status);
  useEffect(() => {
    setStatus(live.status);
    return live.onStatus(setStatus);
  }, [live]);
  return status;
}
