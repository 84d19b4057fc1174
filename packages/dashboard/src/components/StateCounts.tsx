import type { JobState } from '@offload/client/browser';
import { JOB_STATES } from '../lib/job-states';
import { Link } from './Link';

/** One tile per job state with its count, each a link to the jobs table filtered by it. */
export function StateCounts({ counts }: { counts: Record<JobState, number> }) {
  return (
    <ul className="state-tiles" aria-label="Jobs by state">
      {JOB_STATES.map((s) => (
        <li key={s}>
          <Link href={`/jobs?state=${s}`} className={`tile state-${s}`}>
            <span className="tile-value num">{counts[s].toLocaleString()}</span>
            <span className="tile-label">{s}</span>
          </Link>
        </li>
      ))}
    </ul>
  );
}
