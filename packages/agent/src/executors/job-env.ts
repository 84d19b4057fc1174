import type { ClaimedJob } from '@offload/protocol';

export interface JobEnvOptions {
  /** Default: the agent's environment without its own `OFFLOAD_*` settings (URLs, tokens). */
  baseEnv?: NodeJS.ProcessEnv;
  /** The machine has GPUs: a job that reserved none gets `CUDA_VISIBLE_DEVICES=""`. */
  hasGpus?: boolean;
}

/**
 * The command's environment: base, then the job's `env`, then what offload sets — which wins,
 * so a job cannot widen its GPU reservation through its own CUDA_VISIBLE_DEVICES:
 * OFFLOAD_JOB_ID, OFFLOAD_ATTEMPT, OFFLOAD_CPUS (the cpu reservation, may be fractional),
 * CUDA_VISIBLE_DEVICES (the reserved indexes comma-joined; "" — no GPU visible to CUDA — when
 * the job reserved none on a machine that has some; left as inherited on a machine without).
 */
export function buildJobEnv(job: ClaimedJob, options: JobEnvOptions = {}): Record<string, string> {
  const env: Record<string, string> = {};
  const base = options.baseEnv ?? agentBaseEnv();
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(job.payload.env ?? {})) env[k] = v;
  env.OFFLOAD_JOB_ID = job.id;
  env.OFFLOAD_ATTEMPT = String(job.attempt);
  env.OFFLOAD_CPUS = String(job.cpu);
  if (job.gpus.length > 0) env.CUDA_VISIBLE_DEVICES = job.gpus.join(',');
  else if (options.hasGpus) env.CUDA_VISIBLE_DEVICES = '';
  return env;
}

/** The agent's environment without its own `OFFLOAD_*` settings: a copy, read now. */
export function agentBaseEnv(): NodeJS.ProcessEnv {
  return withoutOffloadSettings(process.env);
}

function withoutOffloadSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('OFFLOAD_')) out[k] = v;
  return out;
}
