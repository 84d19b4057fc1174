import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../supervisor/job-files.js';
import { Outbox } from './outbox.js';

/**
 * The agent's state directory:
 *
 *   agent.json              id, name, secret, server URLs (0600)
 *   outbox.jsonl            finished attempts' completions, until the server acknowledged them (Outbox)
 *   running/<job>-<lease>.json  a command attempt that runs under its supervisor (restart recovery)
 *   jobs/<job>-<attempt>/   the supervisors' job directories (command executor; see JobDirs)
 *
 * Default: `$XDG_STATE_HOME/offload/agent`, else `~/.local/state/offload/agent`.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(os.homedir(), '.local', 'state');
  return join(base, 'offload', 'agent');
}

export interface AgentIdentity {
  agentId: string;
  name: string;
  secret: string;
  servers: string[];
}

export interface RunningRecord {
  jobId: string;
  leaseId: string;
  attempt: number;
  jobDir: string;
  cpu: number;
  memoryMb: number;
  gpus: number[];
  /** output.log offset up to which output was shipped. */
  logOffset: number;
}

const SAFE = /^[A-Za-z0-9_.:-]+$/;
const entryName = (jobId: string, leaseId: string) => {
  if (!SAFE.test(jobId) || !SAFE.test(leaseId) || jobId.includes('..') || leaseId.includes('..'))
    throw new Error(`unusable job or lease id ${JSON.stringify(`${jobId}/${leaseId}`)}`);
  return `${jobId}-${leaseId}.json`;
};

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function listJson<T>(dir: string): T[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().flatMap((n) => {
    const v = readJson<T>(join(dir, n));
    return v === undefined ? [] : [v];
  });
}

/** Reads and writes the state directory; every write is atomic (temp file, rename; agent.json fsynced too). */
export class AgentState {
  readonly runningDir: string;
  readonly outbox: Outbox;

  constructor(readonly dir: string) {
    this.runningDir = join(dir, 'running');
    this.outbox = new Outbox(dir);
  }

  init(): void {
    for (const d of [this.dir, this.runningDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
    this.outbox.open();
  }

  readIdentity(): AgentIdentity | undefined {
    const id = readJson<AgentIdentity>(join(this.dir, 'agent.json'));
    return id && typeof id.secret === 'string' && typeof id.agentId === 'string' ? id : undefined;
  }

  writeIdentity(identity: AgentIdentity): void {
    writeJsonAtomic(join(this.dir, 'agent.json'), identity, 0o600);
  }

  putRunning(r: RunningRecord): void {
    // Not fsynced (~0.5 ms per job on the dev VM): like the outbox, it must outlive the agent's
    // crash, which the page cache does; a machine crash ends the job too.
    writeJsonAtomic(join(this.runningDir, entryName(r.jobId, r.leaseId)), r, 0o600, false);
  }

  deleteRunning(r: Pick<RunningRecord, 'jobId' | 'leaseId'>): void {
    rmSync(join(this.runningDir, entryName(r.jobId, r.leaseId)), { force: true });
  }

  running(): RunningRecord[] {
    return listJson<RunningRecord>(this.runningDir);
  }
}

/** The hostname made a valid agent name (letters, digits, `_ . : @ -`; up to 128). */
export function defaultAgentName(hostname = os.hostname()): string {
  const name = hostname
    .replace(/[^A-Za-z0-9_.:@-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
  return name || 'agent';
}
