import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { AgentResources, Gpu } from '@offload/protocol';
import { detectGpus, type GpuDetectOptions } from './gpu-detect.js';

/** What the machine offers. Every field can be overridden by the agent's config. */
export interface MachineInfo {
  hostname: string;
  os: string;
  arch: string;
  resources: AgentResources;
  /** Things worth telling the operator (a failing nvidia-smi, a cgroup limit applied). */
  warnings: string[];
}

export interface ResourceOverrides {
  cpu?: number;
  memoryMb?: number;
  /** Replaces the detected list ([] hides every GPU). */
  gpus?: Gpu[];
  os?: string;
  arch?: string;
  hostname?: string;
}

export interface DetectResourcesOptions {
  overrides?: ResourceOverrides;
  /** false: do not run nvidia-smi at all. */
  detectGpus?: boolean;
  nvidiaSmi?: GpuDetectOptions;
}

/**
 * Detects CPUs (os.availableParallelism: honours CPU affinity), memory, OS, arch and NVIDIA
 * GPUs. In a cgroup-v2 container with a CPU quota or memory limit below the machine's, the
 * limit is what jobs can use, so it wins (with a warning saying so).
 */
export async function detectResources(options: DetectResourcesOptions = {}): Promise<MachineInfo> {
  const o = options.overrides ?? {};
  const warnings: string[] = [];
  let cpu = os.availableParallelism();
  let memoryMb = Math.floor(os.totalmem() / 1048576);
  const limits = cgroupLimits();
  if (limits.cpu !== undefined && limits.cpu < cpu) {
    warnings.push(`cgroup CPU quota: ${limits.cpu} CPUs of ${cpu}`);
    cpu = limits.cpu;
  }
  if (limits.memoryMb !== undefined && limits.memoryMb < memoryMb) {
    warnings.push(`cgroup memory limit: ${limits.memoryMb} MB of ${memoryMb}`);
    memoryMb = limits.memoryMb;
  }
  let gpus: Gpu[] = [];
  if (o.gpus === undefined && options.detectGpus !== false) {
    const found = await detectGpus(options.nvidiaSmi);
    gpus = found.gpus;
    if (found.warning) warnings.push(found.warning);
  }
  return {
    hostname: o.hostname ?? os.hostname(),
    os: o.os ?? process.platform,
    arch: o.arch ?? process.arch,
    resources: { cpu: o.cpu ?? cpu, memoryMb: o.memoryMb ?? memoryMb, gpus: o.gpus ?? gpus },
    warnings,
  };
}

/** cgroup v2 limits of this process's cgroup as seen from inside it (containers); {} if none. */
export function cgroupLimits(root = '/sys/fs/cgroup'): { cpu?: number; memoryMb?: number } {
  const out: { cpu?: number; memoryMb?: number } = {};
  const read = (f: string) => {
    try {
      return readFileSync(`${root}/${f}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const [quota, period] = (read('cpu.max') ?? 'max').split(/\s+/);
  if (quota && quota !== 'max' && Number(period) > 0) {
    const n = Number(quota) / Number(period);
    if (n > 0) out.cpu = Math.round(n * 100) / 100;
  }
  const mem = read('memory.max');
  if (mem && mem !== 'max' && Number(mem) > 0) out.memoryMb = Math.floor(Number(mem) / 1048576);
  return out;
}

export interface CapabilityOptions {
  os: string;
  arch: string;
  gpus: readonly Gpu[];
  /** Task handler names: each adds `task:<name>`. */
  taskNames?: readonly string[];
  /** The operator's own (`--cap ffmpeg`). */
  extra?: readonly string[];
  /** Detected capabilities to leave out (config). */
  exclude?: readonly string[];
}

/** `os:<platform>`, `arch:<arch>`, `gpu` when there are GPUs, `task:<name>` per handler, then the operator's; sorted, unique. */
export function agentCapabilities(o: CapabilityOptions): string[] {
  const caps = new Set<string>([`os:${o.os}`, `arch:${o.arch}`]);
  if (o.gpus.length > 0) caps.add('gpu');
  for (const n of o.taskNames ?? []) caps.add(`task:${n}`);
  for (const c of o.exclude ?? []) caps.delete(c);
  for (const c of o.extra ?? []) {
    if (!c || /\s/.test(c))
      throw new Error(`capability ${JSON.stringify(c)} may not be empty or hold spaces`);
    caps.add(c);
  }
  return [...caps].sort();
}
