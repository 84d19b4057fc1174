import { useMemo, useState } from 'react';
import type { Job } from '@offload/client/browser';
import { JobFilters } from '../components/JobFilters';
import { JobsTable } from '../components/JobsTable';
import { PageHeader } from '../components/PageHeader';
import { Empty, ErrorBox, Loading } from '../components/Status';
import { useAsync } from '../hooks/use-async';
import { useJobEvents, useResync } from '../hooks/use-live';
import { useNow } from '../hooks/use-now';
import { useSession } from '../hooks/use-session';
import {
  filterFromQuery,
  filterToQuery,
  matchesFilter,
  toListFilter,
  type JobFilter,
} from '../lib/job-filter';
import { canCancel, canRetry } from '../lib/job-states';
import { navigate } from '../lib/router';
import { errorMessage } from '../lib/session';

const PAGE_SIZE = 50;
/**
 * New jobs join the top of the first page without pushing rows off it (its "Older" cursor
 * still starts after the last row loaded), up to this many rows; past it the oldest go.
 */
const LIVE_ROWS_MAX = 500;

export function JobsPage({ query }: { query: URLSearchParams }) {
  const { client, can } = useSession();
  const queryKey = query.toString();
  const filter = useMemo(() => filterFromQuery(new URLSearchParams(queryKey)), [queryKey]);
  // Cursors of the pages before the current one: "Previous" pops, "Next" pushes.
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  // New jobs (by id: a job sends several events) seen while on a later page.
  const [newIds, setNewIds] = useState<ReadonlySet<string>>(new Set());
  const newCount = newIds.size;
  const [bulkResult, setBulkResult] = useState<string | null>(null);
  const now = useNow(5_000);

  const page = useAsync(
    () => client.listPage({ ...toListFilter(filter, PAGE_SIZE), cursor }),
    [client, queryKey, cursor],
  );
  useResync(page.reload);

  // Live: rows change in place; new jobs appear at the top of the first page (newest first),
  // on later pages a banner offers to go to them; rows that no longer match the filter go.
  useJobEvents(({ job }) => {
    const matches = matchesFilter(job, filter);
    const present = page.data?.jobs.some((j) => j.id === job.id) ?? false;
    if (!present && matches && cursor !== undefined && isNewer(job, page.data?.jobs ?? [])) {
      if (!newIds.has(job.id)) setNewIds((s) => new Set(s).add(job.id));
      return;
    }
    page.setData((p) => {
      const i = p.jobs.findIndex((j) => j.id === job.id);
      if (i >= 0) {
        const jobs = matches ? p.jobs.with(i, job) : p.jobs.filter((j) => j.id !== job.id);
        return { ...p, jobs };
      }
      if (!matches || cursor !== undefined || !isNewer(job, p.jobs)) return p;
      return { ...p, jobs: [job, ...p.jobs].slice(0, LIVE_ROWS_MAX) };
    });
  });

  const setFilter = (f: JobFilter) => {
    setCursors([undefined]);
    setSelected(new Set());
    setNewIds(new Set());
    navigate(`/jobs${filterToQuery(f)}`);
  };
  const jobs = page.data?.jobs ?? [];
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const toggleAll = () =>
    setSelected((s) =>
      jobs.every((j) => s.has(j.id)) ? new Set() : new Set(jobs.map((j) => j.id)),
    );

  const chosen = jobs.filter((j) => selected.has(j.id));
  const bulk = async (what: 'cancel' | 'retry') => {
    const targets = chosen.filter(what === 'cancel' ? canCancel : canRetry);
    const results = await Promise.allSettled(
      targets.map((j) => (what === 'cancel' ? client.cancel(j.id) : client.retry(j.id))),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const skipped = chosen.length - targets.length;
    setBulkResult(
      `${what === 'cancel' ? 'Cancel' : 'Retry'}: ${targets.length - failed.length} done` +
        (skipped ? `, ${skipped} skipped (not ${what === 'cancel' ? 'live' : 'finished'})` : '') +
        (failed.length ? `, ${failed.length} failed: ${errorMessage(failed[0]!.reason)}` : ''),
    );
    setSelected(new Set());
  };
  const showSelection = can.cancel || can.submit;

  return (
    <section aria-labelledby="page-title">
      <PageHeader title={<span id="page-title">Jobs</span>} />
      <JobFilters filter={filter} onChange={setFilter} />
      {showSelection && chosen.length > 0 && (
        <div className="bulk-bar" role="toolbar" aria-label="Bulk actions">
          <span>{chosen.length} selected</span>
          {can.cancel && (
            <button
              type="button"
              className="btn danger small"
              onClick={() => void bulk('cancel')}
              disabled={!chosen.some(canCancel)}
            >
              Cancel selected
            </button>
          )}
          {can.submit && (
            <button
              type="button"
              className="btn small"
              onClick={() => void bulk('retry')}
              disabled={!chosen.some(canRetry)}
            >
              Retry selected
            </button>
          )}
          <button type="button" className="btn ghost small" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
      )}
      {bulkResult && (
        <p className="notice" role="status">
          {bulkResult}{' '}
          <button type="button" className="btn ghost small" onClick={() => setBulkResult(null)}>
            Dismiss
          </button>
        </p>
      )}
      {newCount > 0 && (
        <p className="notice" role="status">
          {newCount} new {newCount === 1 ? 'job' : 'jobs'} since this page loaded.{' '}
          <button
            type="button"
            className="btn small"
            onClick={() => {
              setNewIds(new Set());
              setCursors([undefined]);
            }}
          >
            Show newest
          </button>
        </p>
      )}
      {page.status === 'loading' && <Loading what="jobs" />}
      {page.status === 'error' && <ErrorBox error={page.error} onRetry={page.reload} />}
      {page.data && jobs.length === 0 && (
        <Empty>
          {Object.keys(filter).length > 0
            ? 'No jobs match these filters.'
            : 'No jobs yet. Submit one with `offload run -- echo hello` and it appears here at once.'}
        </Empty>
      )}
      {jobs.length > 0 && (
        <JobsTable
          jobs={jobs}
          now={now}
          selected={showSelection ? selected : undefined}
          onToggle={showSelection ? toggle : undefined}
          onToggleAll={showSelection ? toggleAll : undefined}
        />
      )}
      {page.data && (cursors.length > 1 || page.data.nextCursor) && (
        <nav className="pager" aria-label="Pages">
          <button
            type="button"
            className="btn small"
            disabled={cursors.length <= 1}
            onClick={() => setCursors((c) => c.slice(0, -1))}
          >
            ← Newer
          </button>
          <span className="muted">Page {cursors.length}</span>
          <button
            type="button"
            className="btn small"
            disabled={!page.data.nextCursor}
            onClick={() => {
              const next = page.data?.nextCursor;
              if (next) setCursors((c) => [...c, next]);
            }}
          >
            Older →
          </button>
        </nav>
      )}
    </section>
  );
}

function isNewer(job: Job, jobs: readonly Job[]): boolean {
  const first = jobs[0];
  return first === undefined || job.createdAt >= first.createdAt;
}
