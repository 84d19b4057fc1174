import type { Job, JobListFilter, JobState } from '@offload/client/browser';
import { JOB_STATES } from './job-states';

/** The jobs table's filters, as they appear in the URL (`/jobs?state=running&queue=render`). */
export interface JobFilter {
  state?: JobState | undefined;
  queue?: string | undefined;
  agent?: string | undefined;
  tag?: string | undefined;
  q?: string | undefined;
}

export function filterFromQuery(query: URLSearchParams): JobFilter {
  const f: JobFilter = {};
  const state = query.get('state');
  if (state && (JOB_STATES as readonly string[]).includes(state)) f.state = state as JobState;
  for (const k of ['queue', 'agent', 'tag', 'q'] as const) {
    const v = query.get(k)?.trim();
    if (v) f[k] = v;
  }
  return f;
}

export function filterToQuery(f: JobFilter): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (typeof v === 'string' && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function toListFilter(f: JobFilter, limit: number): JobListFilter {
  const out: JobListFilter = { limit };
  if (f.state) out.state = f.state;
  for (const k of ['queue', 'agent', 'tag', 'q'] as const) {
    const v = f[k];
    if (v) out[k] = v;
  }
  return out;
}

/** Whether a job (as a live event shows it) belongs in the table under these filters. */
export function matchesFilter(job: Job, f: JobFilter): boolean {
  if (f.state && job.state !== f.state) return false;
  if (f.queue && job.queue !== f.queue) return false;
  if (f.agent && job.agent?.name !== f.agent) return false;
  if (f.q && !job.name.toLowerCase().includes(f.q.toLowerCase())) return false;
  if (f.tag) {
    const i = f.tag.indexOf(':');
    const key = i < 0 ? f.tag : f.tag.slice(0, i);
    if (i < 0 ? !(key in job.tags) : job.tags[key] !== f.tag.slice(i + 1)) return false;
  }
  return true;
}
