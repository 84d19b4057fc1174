import { Empty } from './components/Status';
import { Link } from './components/Link';
import { useRoute } from './hooks/use-route';
import { AccessPage } from './pages/AccessPage';
import { AgentsPage } from './pages/AgentsPage';
import { JobDetailPage } from './pages/JobDetailPage';
import { JobsPage } from './pages/JobsPage';
import { OverviewPage } from './pages/OverviewPage';
import { QueuesPage } from './pages/QueuesPage';

export function Routes() {
  const route = useRoute();
  switch (route.page) {
    case 'overview':
      return <OverviewPage />;
    case 'jobs':
      return <JobsPage query={route.query} />;
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
