// A tiny history-API router: the server answers every app path with index.html, so deep links
// and reloads work. Routes are few and fixed; a library would add more than it saves.

export type Route =
  | { page: 'overview' }
  | { page: 'jobs'; query: URLSearchParams }
  | { page: 'job'; id: string }
  | { page: 'agents' }
  | { page: 'queues' }
  | { page: 'access' }
  | { page: 'not-found' };

export function parseRoute(pathname: string, search: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'overview' };
  if (parts[0] === 'jobs' && parts.length === 1)
    return { page: 'jobs', query: new URLSearchParams(search) };
  if (parts[0] === 'jobs' && parts.length === 2) return { page: 'job', id: parts[1]! };
  if (
    parts.length === 1 &&
    (parts[0] === 'agents' || parts[0] === 'queues' || parts[0] === 'access')
  )
    return { page: parts[0] };
  return { page: 'not-found' };
}

const NAVIGATE = 'offload:navigate';

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE));
}

export function onNavigate(listener: () => void): () => void {
  window.addEventListener('popstate', listener);
  window.addEventListener(NAVIGATE, listener);
  return () => {
    window.removeEventListener('popstate', listener);
    window.removeEventListener(NAVIGATE, listener);
  };
}

export function jobPath(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}
