import { useEffect, useState, type FormEvent } from 'react';
import type { JobState } from '@offload/client/browser';
import { JOB_STATES } from '../lib/job-states';
import type { JobFilter } from '../lib/job-filter';

/** The filter bar of the jobs table: the state applies at once, text fields on Enter / Apply. */
export function JobFilters({
  filter,
  onChange,
}: {
  filter: JobFilter;
  onChange: (f: JobFilter) => void;
}) {
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const text = (k: 'q' | 'queue' | 'agent' | 'tag') => ({
    value: draft[k] ?? '',
    onChange: (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onChange(clean(draft));
  };
  const hasAny = Object.values(filter).some(Boolean);
  return (
    <form className="filters" role="search" aria-label="Filter jobs" onSubmit={submit}>
      <div className="field grow">
        <label htmlFor="f-q">Name</label>
        <input id="f-q" type="search" placeholder="Search by name" {...text('q')} />
      </div>
      <div className="field">
        <label htmlFor="f-state">State</label>
        <select
          id="f-state"
          value={draft.state ?? ''}
          onChange={(e) =>
            onChange(
              clean({ ...draft, state: (e.target.value || undefined) as JobState | undefined }),
            )
          }
        >
          <option value="">Any state</option>
          {JOB_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-queue">Queue</label>
        <input id="f-queue" placeholder="any" {...text('queue')} />
      </div>
      <div className="field">
        <label htmlFor="f-agent">Agent</label>
        <input id="f-agent" placeholder="any" {...text('agent')} />
      </div>
      <div className="field">
        <label htmlFor="f-tag">Tag</label>
        <input
          id="f-tag"
          placeholder="key:value"
          pattern="[^:]+:.*"
          title="key:value"
          {...text('tag')}
        />
      </div>
      <div className="field buttons">
        <button type="submit" className="btn primary">
          Apply
        </button>
        {hasAny && (
          <button type="button" className="btn ghost" onClick={() => onChange({})}>
            Clear
          </button>
        )}
      </div>
    </form>
  );
}

function clean(f: JobFilter): JobFilter {
  const out: JobFilter = {};
  if (f.state) out.state = f.state;
  for (const k of ['q', 'queue', 'agent', 'tag'] as const) {
    const v = f[k]?.trim();
    if (v) out[k] = v;
  }
  return out;
}
