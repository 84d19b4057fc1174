import { useEffect } from 'react';
import { Empty } from './components/Status';
import { Link } from './components/Link';
import { useRoute } from './hooks/use-route';
import type { Route } from './lib/router';
import { AccessPage } from './pages/AccessPage';
import { AgentsPage } from './pages/AgentsPage';
import { JobDetailPage } from './pages/JobDetailPage';
import { JobsPage } from './pages/JobsPage';
import { OverviewPage } from './pages/OverviewPage';
import { QueuesPage } from './pages/QueuesPage';

const TITLES: Record<Route['page'], string> = {
  overview: 'Overview',
  jobs: 'Jobs',
  job: 'Job',
  agents: 'Agents',
  queues: 'Queues',
  access: 'Access',
  'not-found': 'Not found',
};

export function Routes() {
  const route = useRoute();
  useEffect(() => {
    document.title = `${route.page === 'job' ? route.id : TITLES[route.page]} · offload`;
  }, [route]);
  switch (route.page) {
    case 'overview':
      return <OverviewPage />;
    case 'jobs':
      // Keyed by the filters: a new filter starts from the first page with nothing selected.
      return <JobsPage key={route.query.toString()} query={route.query} />;
    case 'job':
      return <JobDetailPage key={route.id} id={route.id} />;
    case 'agents':
      return <AgentsPage />;
    case 'queues':
      return <QueuesPage />;
    case 'access':
      return <AccessPage />;
    case 'not-found':
      return (
        <Empty>
          No page here. <Link href="/">Go to the overview</Link>.
        </Empty>
      );
  }
}
