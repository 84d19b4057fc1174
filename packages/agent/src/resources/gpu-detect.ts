import { execFile } from 'node:child_process';
import type { Gpu } from '@offload/protocol';

export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,name,memory.total',
  '--format=csv,noheader,nounits',
] as const;

export interface GpuDetection {
  gpus: Gpu[];
  /** Set when nvidia-smi exists but failed or printed something unusable. */
  warning?: string;
}

/**
 * Parses `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`:
 * `0, NVIDIA GeForce RTX 4090, 24564` per line. The model may itself hold commas, so the index
 * is the first field and the memory the last. Memory `[N/A]` (some MIG or vGPU set-ups) reads
 * as 0. Throws on anything else: a half-understood GPU list is worse than none.
 */
export function parseNvidiaSmi(text: string): Gpu[] {
  const gpus: Gpu[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const fields = line.split(',').map((f) => f.trim());
    const index = Number(fields[0]);
    const mem = fields.at(-1) ?? '';
    const model = fields.slice(1, -1).join(', ');
    const memoryMb = /^\[?N\/A\]?$/i.test(mem) ? 0 : Number(mem);
    if (
      fields.length < 3 ||
      !/^\d+$/.test(fields[0] ?? '') ||
      index > 1023 ||
      !model ||
      !Number.isFinite(memoryMb) ||
      memoryMb < 0
    )
      throw new Error(`unexpected nvidia-smi line: ${JSON.stringify(line.slice(0, 200))}`);
    if (gpus.some((g) => g.index === index)) throw new Error(`nvidia-smi lists GPU ${index} twice`);
    gpus.push({ index, model: model.slice(0, 256), memoryMb: Math.floor(memoryMb) });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

export interface GpuDetectOptions {
  /** The command to run; default `nvidia-smi`, looked up on `env.PATH`. */
  command?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Lists NVIDIA GPUs. No nvidia-smi → no GPUs, silently; a failing or garbled one → a warning. */
export function detectGpus(options: GpuDetectOptions = {}): Promise<GpuDetection> {
  const command = options.command ?? 'nvidia-smi';
  return new Promise((resolve) => {
    execFile(
      command,
      NVIDIA_SMI_ARGS,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 10_000,
        maxBuffer: 1024 * 1024,
        windowsHide: true,
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') return resolve({ gpus: [] });
          const detail =
            String(stderr || stdout)
              .trim()
              .split('\n')[0] ?? '';
          return resolve({
            gpus: [],
            warning: `${command} failed (${err.killed ? 'timed out' : (code ?? err.message)})${detail ? `: ${detail}` : ''}; no GPUs detected`,
          });
        }
        try {
          resolve({ gpus: parseNvidiaSmi(stdout) });
        } catch (parseErr) {
          resolve({
            gpus: [],
            warning: `${command}: ${(parseErr as Error).message}; no GPUs detected`,
          });
        }
      },
    );
  });
}
