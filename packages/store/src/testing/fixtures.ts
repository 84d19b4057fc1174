import {
  agentAccepts,
  createJobRecord,
  jobClassKey,
  jobClassOf,
  type AgentRecord,
  type AttemptOutcome,
  type JobRecord,
} from '@offload/core';
import type { JobSubmit } from '@offload/protocol';
import type { ClaimedAttempt, Store } from '../store.js';

/** The suite's fake clock starts here; every store call gets an explicit `now`. */
export const T0 = Date.UTC(2030, 0, 1);

let counter = 0;
export function nextId(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter.toString().padStart(6, '0')}`;
}

/** A job record as the server would build it (core's createJobRecord): a `true` command unless `task` is given. */
export function makeJob(
  spec: Partial<JobSubmit> = {},
  at: { id?: string; now?: number } = {},
): JobRecord {
  const body = (spec.task === undefined ? { command: ['true'], ...spec } : spec) as JobSubmit;
  return createJobRecord(body, { id: at.id ?? nextId('job'), now: at.now ?? T0 });
}

export function makeAgent(over: Partial<AgentRecord> = {}): AgentRecord {
  const id = over.id ?? nextId('agent');
  return {
    id,
    name: `name-${id}`,
    state: 'online',
    capabilities: [],
    tier: 0,
    pools: [],
    maxJobs: 100,
    resources: { cpu: 64, memoryMb: 65_536, gpus: [] },
    hostname: null,
    os: null,
    arch: null,
    version: null,
    lastSeenAt: T0,
    createdAt: T0,
    ...over,
  };
}

export async function submit(store: Store, ...jobs: JobRecord[]): Promise<JobRecord[]> {
  const out = await store.jobsSubmit({ jobs });
  return out.map((r) => r.job);
}

/** The classes an agent accepts, decided as the dispatcher does (core's agentAccepts). */
export async function classesFor(
  store: Store,
  agent: AgentRecord,
  queuedBefore: number | null = null,
): Promise<Array<{ classId: number; queuedBefore: number | null }>> {
  const all = await store.classesList({ afterId: 0 });
  return all
    .filter((c) => agentAccepts(agent, c.jobClass))
    .map((c) => ({ classId: c.id, queuedBefore }));
}

export async function claim(
  store: Store,
  agent: AgentRecord,
  opts: { max?: number; now?: number; queuedBefore?: number | null } = {},
): Promise<ClaimedAttempt[]> {
  const classes = await classesFor(store, agent, opts.queuedBefore ?? null);
  return store.jobsClaim({ agent, max: opts.max ?? 100, classes, now: opts.now ?? T0 });
}

/** The id the store gave the class of `job` (after it was submitted). */
export async function classIdOf(store: Store, job: JobRecord): Promise<number> {
  const key = jobClassKey(jobClassOf(job));
  const c = (await store.classesList({ afterId: 0 })).find((x) => jobClassKey(x.jobClass) === key);
  if (c === undefined) throw new Error(`test setup: no class for job ${job.id}`);
  return c.id;
}

/** Submits one job and has `agent` claim it (the head of its class: tests keep it the only one queued). */
export async function startJob(
  store: Store,
  agent: AgentRecord,
  spec: Partial<JobSubmit> = {},
  now = T0,
): Promise<JobRecord> {
  const [job] = await submit(store, makeJob(spec, { now }));
  const classes = [{ classId: await classIdOf(store, job!), queuedBefore: null }];
  const [claimed] = await store.jobsClaim({ agent, max: 1, classes, now });
  if (claimed?.job.id !== job!.id)
    throw new Error(`test setup: ${agent.name} did not claim ${job!.id}`);
  return claimed.job;
}

export async function report(
  store: Store,
  job: JobRecord,
  outcome: AttemptOutcome,
  now: number,
  by: { agentId?: string; leaseId?: string } = {},
): Promise<{ jobId: string; ok: boolean; job: JobRecord | null }> {
  const [r] = await store.jobsComplete({
    agentId: by.agentId ?? job.agentId ?? 'nobody',
    reports: [{ ...outcome, jobId: job.id, leaseId: by.leaseId ?? job.leaseId ?? 'no-lease' }],
    now,
  });
  return r!;
}

/** All pages of a list, following cursors. */
export async function listAll(
  store: Store,
  filter: Omit<Parameters<Store['jobsList']>[0], 'limit' | 'cursor'>,
  limit = 500,
): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.jobsList({
      ...filter,
      limit,
      ...(cursor === undefined ? {} : { cursor }),
    });
    out.push(...page.jobs);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
}

export const ids = (jobs: ReadonlyArray<{ id: string } | { job: { id: string } }>): string[] =>
  jobs.map((j) => ('job' in j ? j.job.id : j.id));
