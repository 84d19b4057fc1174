import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClaimedJob } from '@offload/protocol';
import type { OutputChunk, ProgressUpdate } from '../src/index.js';

/**
 * One sandbox per test file: a state directory and a token that every job id and every path
 * carries, so a /proc scan finds anything the tests started (commands inherit OFFLOAD_JOB_ID,
 * supervisors have their job directory on the command line).
 */
export function createSandbox() {
  const token = `t${randomBytes(5).toString('hex')}`;
  const root = realpathSync(mkdtempSync(join(tmpdir(), `offload-agent-${token}-`)));
  let n = 0;
  return {
    token,
    root,
    stateDir: join(root, 'state'),
    jobId: () => `job_${token}_${++n}`,
    job(payload: ClaimedJob['payload'], extra: Partial<ClaimedJob> = {}): ClaimedJob {
      const id = `job_${token}_${++n}`;
      return {
        id,
        leaseId: `lease_${id}`,
        attempt: 1,
        name: id,
        queue: 'default',
        timeoutSec: 0,
        cpu: 1,
        memoryMb: 0,
        gpus: [],
        payload,
        ...extra,
      };
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

interface ProcInfo {
  pid: number;
  pgrp: number;
  state: string;
  cmd: string;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return { pid, state: rest[0] ?? '?', pgrp: Number(rest[2]), cmd };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  if (!existsSync('/proc/self/stat')) return []; // no /proc (macOS): the process tests skip
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Live (non-zombie) processes in process group `pgid` — an independent check of the tree kill. */
export function groupMembers(pgid: number): ProcInfo[] {
  return allPids()
    .map(readProc)
    .filter((p): p is ProcInfo => !!p && p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X');
}

/** Live processes that carry `token` on their command line or in their environment. */
export function processesWith(token: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const p = readProc(pid);
    if (!p || p.state === 'Z' || p.state === 'X') continue;
    let env = '';
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      // gone, or not ours to read
    }
    if (p.cmd.includes(token) || env.includes(token)) out.push(p);
  }
  return out;
}

/**
 * Fails when processes of this sandbox outlive their test. A supervisor exits right after it
 * writes exit.json, so allow a moment; whatever is still there is killed, then reported.
 */
export async function expectNoLeaks(token: string, waitMs = 3000): Promise<void> {
  const deadline = Date.now() + waitMs;
  let left = processesWith(token);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = processesWith(token);
  }
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  throw new Error(
    `processes leaked by the test: ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`,
  );
}

/** The process tests read /proc: Linux only. */
export const HAS_PROC = existsSync('/proc/self/stat');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects callbacks' output and progress. */
export function recorder() {
  const chunks: OutputChunk[] = [];
  const progress: ProgressUpdate[] = [];
  return {
    chunks,
    progress,
    onOutput: (c: OutputChunk) => chunks.push(c),
    onProgress: (p: ProgressUpdate) => progress.push(p),
    text: (stream?: OutputChunk['stream']) =>
      chunks
        .filter((c) => !stream || c.stream === stream)
        .map((c) => c.data)
        .join(''),
  };
}

/** Resolves once `check` returns a value; rejects after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
