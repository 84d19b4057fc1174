import type { ReactNode } from 'react';
import { useLiveStatus } from '../hooks/use-live';
import { useRoute } from '../hooks/use-route';
import { useSession } from '../hooks/use-session';
import { Link } from './Link';

const NAV = [
  { href: '/', label: 'Overview', pages: ['overview'] },
  { href: '/jobs', label: 'Jobs', pages: ['jobs', 'job'] },
  { href: '/agents', label: 'Agents', pages: ['agents'] },
  { href: '/queues', label: 'Queues', pages: ['queues'] },
  { href: '/access', label: 'Access', pages: ['access'] },
] as const;

const STATUS_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
} as const;

export function Layout({ children }: { children: ReactNode }) {
  const route = useRoute();
  const { can, logout } = useSession();
  const status = useLiveStatus();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand" aria-label="offload overview">
          <span className="brand-mark" aria-hidden="true" />
          offload
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <Link
                  href={n.href}
                  className="nav-link"
                  aria-current={
                    (n.pages as readonly string[]).includes(route.page) ? 'page' : undefined
                  }
                >
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-right">
          <span
            className={`live-status ${status}`}
            role="status"
            title="The event stream that keeps this page current"
          >
            <span className="dot" aria-hidden="true" />
            {STATUS_TEXT[status]}
          </span>
          {!can.submit && !can.cancel && !can.admin && (
            <span className="badge readonly">read-only</span>
          )}
          <button type="button" className="btn small ghost" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
