import type {
  AgentRecord,
  FreeResources,
  JobRecord,
  Requirements,
  Reservation,
} from './records.js';

/**
 * A requirement class: what decides where a job may run. Jobs of one class are
 * interchangeable for matching, so the store indexes queued jobs by class and a claim
 * looks up a few classes instead of scanning jobs (SPEC §2).
 */
export interface JobClass {
  queue: string;
  requires: Requirements;
  targetAgent: string | null;
  pool: string | null;
}

export function jobClassOf(
  job: Pick<JobRecord, 'queue' | 'requires' | 'targetAgent' | 'pool'>,
): JobClass {
  return { queue: job.queue, requires: job.requires, targetAgent: job.targetAgent, pool: job.pool };
}

/** A stable text key for a class (capabilities are already sorted). */
export function jobClassKey(c: JobClass): string {
  const r = c.requires;
  return JSON.stringify([
    c.queue,
    r.capabilities,
    r.cpu,
    r.memoryMb,
    r.gpus,
    r.gpuMemoryMb,
    c.targetAgent,
    c.pool,
  ]);
}

/** Whether two classes are the same (what equal jobClassKeys say), without building the keys. */
export function sameJobClass(a: JobClass, b: JobClass): boolean {
  const x = a.requires;
  const y = b.requires;
  return (
    a.queue === b.queue &&
    a.targetAgent === b.targetAgent &&
    a.pool === b.pool &&
    x.cpu === y.cpu &&
    x.memoryMb === y.memoryMb &&
    x.gpus === y.gpus &&
    x.gpuMemoryMb === y.gpuMemoryMb &&
    x.capabilities.length === y.capabilities.length &&
    x.capabilities.every((c, i) => c === y.capabilities[i])
  );
}

const EPSILON = 1e-9;

/**
 * Whether the agent could ever run jobs of this class, regardless of what it runs now:
 * state, capabilities, targeting, pool, and total resources. Cheap enough to evaluate
 * for every (agent, class) pair and cache.
 */
export function agentAccepts(agent: AgentRecord, c: JobClass): boolean {
  if (agent.state !== 'online') return false;
  if (c.targetAgent !== null && c.targetAgent !== agent.name) return false;
  if (c.pool !== null && !agent.pools.includes(c.pool)) return false;
  const r = c.requires;
  if (r.cpu > agent.resources.cpu + EPSILON) return false;
  if (r.memoryMb > agent.resources.memoryMb) return false;
  if (r.gpus > 0 && agent.resources.gpus.filter((g) => g.memoryMb >= r.gpuMemoryMb).length < r.gpus)
    return false;
  if (r.capabilities.length > 0) {
    const caps = new Set(agent.capabilities);
    for (const cap of r.capabilities) if (!caps.has(cap)) return false;
  }
  return true;
}

/** Total minus what running attempts hold. */
export function freeResources(
  agent: Pick<AgentRecord, 'resources' | 'maxJobs'>,
  running: readonly Reservation[],
): FreeResources {
  let cpu = agent.resources.cpu;
  let memoryMb = agent.resources.memoryMb;
  const used = new Set<number>();
  for (const r of running) {
    cpu -= r.cpu;
    memoryMb -= r.memoryMb;
    for (const g of r.gpus) used.add(g);
  }
  return {
    cpu,
    memoryMb,
    gpus: agent.resources.gpus.map((g) => g.index).filter((i) => !used.has(i)),
    slots: agent.maxJobs - running.length,
  };
}

/**
 * Whether one job of these requirements fits in `free` now; if so, the GPUs it gets.
 * GPUs are chosen best-fit: the ones with the least memory that still satisfy
 * `gpuMemoryMb`, so big GPUs stay free for jobs that need them.
 */
export function fitJob(
  agent: Pick<AgentRecord, 'resources'>,
  free: FreeResources,
  r: Requirements,
): { gpus: number[] } | null {
  if (free.slots < 1) return null;
  if (r.cpu > free.cpu + EPSILON) return null;
  if (r.memoryMb > free.memoryMb) return null;
  if (r.gpus === 0) return { gpus: [] };
  const candidates = agent.resources.gpus
    .filter((g) => free.gpus.includes(g.index) && g.memoryMb >= r.gpuMemoryMb)
    .sort((a, b) => a.memoryMb - b.memoryMb || a.index - b.index);
  if (candidates.length < r.gpus) return null;
  return {
    gpus: candidates
      .slice(0, r.gpus)
      .map((g) => g.index)
      .sort((a, b) => a - b),
  };
}

/** Takes one job's reservation out of `free` (mutates it): the claim loop's bookkeeping. */
export function reserve(free: FreeResources, r: Requirements, gpus: readonly number[]): void {
  free.cpu -= r.cpu;
  free.memoryMb -= r.memoryMb;
  free.gpus = free.gpus.filter((g) => !gpus.includes(g));
  free.slots -= 1;
}
