import type { Gpu } from '@offload/protocol';

export interface ResourceRequest {
  /** CPUs, may be fractional or 0. */
  cpu?: number;
  memoryMb?: number;
  /** A count (the pool picks free indexes) or the exact indexes the server assigned. */
  gpus?: number | readonly number[];
}

export interface Reservation {
  readonly key: string;
  readonly cpu: number;
  readonly memoryMb: number;
  readonly gpus: readonly number[];
}

export type ResourceConflictCode = 'MAX_JOBS' | 'CPU' | 'MEMORY' | 'GPU' | 'DUPLICATE' | 'INVALID';

/** A reservation that would over-commit the agent or contradict what it holds. */
export class ResourceConflictError extends Error {
  override readonly name = 'ResourceConflictError';
  constructor(
    readonly code: ResourceConflictCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ResourcePoolOptions {
  cpu: number;
  memoryMb: number;
  /** The GPUs (or just their indexes). */
  gpus: readonly (Gpu | number)[];
  maxJobs: number;
}

export interface FreeResources {
  cpu: number;
  memoryMb: number;
  gpus: number[];
  jobs: number;
}

// CPU is counted in thousandths, so 0.1 + 0.2 fits where 0.3 does (no float drift).
const MILLI = 1000;
const toMilli = (cpu: number) => Math.round(cpu * MILLI);

/**
 * What this agent has reserved for running jobs. It never over-commits: a reservation that
 * does not fit throws ResourceConflictError and changes nothing. GPUs are whole and by index;
 * the server assigns them (ClaimedJob.gpus) from the free list the agent reports, and a
 * server assignment that collides with a held GPU is refused, never double-booked.
 */
export class ResourcePool {
  private readonly totalCpuMilli: number;
  private readonly gpuIndexes: readonly number[];
  private readonly held = new Map<string, Reservation>();
  private usedCpuMilli = 0;
  private usedMemoryMb = 0;
  private readonly gpuOwner = new Map<number, string>();

  constructor(readonly options: ResourcePoolOptions) {
    if (!(options.cpu >= 0) || !(options.memoryMb >= 0) || !(options.maxJobs >= 1))
      throw new RangeError('ResourcePool: cpu and memoryMb must be >= 0, maxJobs >= 1');
    this.totalCpuMilli = toMilli(options.cpu);
    this.gpuIndexes = [
      ...new Set(options.gpus.map((g) => (typeof g === 'number' ? g : g.index))),
    ].sort((a, b) => a - b);
  }

  /** Reserves `req` under `key` (a job id or lease id) or throws ResourceConflictError. */
  reserve(key: string, req: ResourceRequest): Reservation {
    const r = this.plan(key, req);
    this.held.set(key, r);
    this.usedCpuMilli += toMilli(r.cpu);
    this.usedMemoryMb += r.memoryMb;
    for (const g of r.gpus) this.gpuOwner.set(g, key);
    return r;
  }

  /** Why `req` cannot be reserved now, or undefined if it can. */
  whyNot(req: ResourceRequest, key = '\u0000probe'): ResourceConflictError | undefined {
    try {
      this.plan(key, req);
      return undefined;
    } catch (err) {
      if (err instanceof ResourceConflictError) return err;
      throw err;
    }
  }

  /** Frees what `key` holds; false if it held nothing (releasing twice is harmless). */
  release(key: string): boolean {
    const r = this.held.get(key);
    if (!r) return false;
    this.held.delete(key);
    this.usedCpuMilli -= toMilli(r.cpu);
    this.usedMemoryMb -= r.memoryMb;
    for (const g of r.gpus) this.gpuOwner.delete(g);
    return true;
  }

  get(key: string): Reservation | undefined {
    return this.held.get(key);
  }

  reservations(): Reservation[] {
    return [...this.held.values()];
  }

  free(): FreeResources {
    return {
      cpu: (this.totalCpuMilli - this.usedCpuMilli) / MILLI,
      memoryMb: this.options.memoryMb - this.usedMemoryMb,
      gpus: this.gpuIndexes.filter((g) => !this.gpuOwner.has(g)),
      jobs: this.options.maxJobs - this.held.size,
    };
  }

  private plan(key: string, req: ResourceRequest): Reservation {
    const cpu = req.cpu ?? 0;
    const memoryMb = req.memoryMb ?? 0;
    const gpuReq = req.gpus ?? 0;
    if (!(cpu >= 0) || !Number.isFinite(cpu) || !(memoryMb >= 0) || !Number.isFinite(memoryMb))
      throw new ResourceConflictError(
        'INVALID',
        `invalid request: cpu ${cpu}, memoryMb ${memoryMb}`,
      );
    if (this.held.has(key))
      throw new ResourceConflictError('DUPLICATE', `${key} already holds a reservation`);
    if (this.held.size >= this.options.maxJobs)
      throw new ResourceConflictError(
        'MAX_JOBS',
        `already running ${this.held.size} of maxJobs ${this.options.maxJobs}`,
      );
    const freeCpu = this.totalCpuMilli - this.usedCpuMilli;
    if (toMilli(cpu) > freeCpu)
      throw new ResourceConflictError('CPU', `needs ${cpu} CPU, ${freeCpu / MILLI} free`);
    const freeMem = this.options.memoryMb - this.usedMemoryMb;
    if (memoryMb > freeMem)
      throw new ResourceConflictError('MEMORY', `needs ${memoryMb} MB, ${freeMem} MB free`);
    return { key, cpu, memoryMb, gpus: this.pickGpus(key, gpuReq) };
  }

  private pickGpus(key: string, req: number | readonly number[]): number[] {
    const free = this.gpuIndexes.filter((g) => !this.gpuOwner.has(g));
    if (typeof req === 'number') {
      if (!Number.isInteger(req) || req < 0)
        throw new ResourceConflictError('INVALID', `invalid GPU count ${req}`);
      if (req > free.length)
        throw new ResourceConflictError('GPU', `needs ${req} GPU(s), ${free.length} free`);
      return free.slice(0, req);
    }
    const seen = new Set<number>();
    for (const g of req) {
      if (!this.gpuIndexes.includes(g))
        throw new ResourceConflictError(
          'GPU',
          `GPU ${g} assigned to ${key} does not exist here (GPUs: ${this.gpuIndexes.join(', ') || 'none'})`,
        );
      const owner = this.gpuOwner.get(g);
      if (owner !== undefined)
        throw new ResourceConflictError('GPU', `GPU ${g} assigned to ${key} is held by ${owner}`);
      if (seen.has(g)) throw new ResourceConflictError('INVALID', `GPU ${g} assigned twice`);
      seen.add(g);
    }
    return [...seen].sort((a, b) => a - b);
  }
}

export const createResourcePool = (options: ResourcePoolOptions) => new ResourcePool(options);
