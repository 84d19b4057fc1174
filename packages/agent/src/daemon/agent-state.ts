import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../supervisor/job-files.js';
import { KeyedJournal, readJournal } from './keyed-journal.js';
import { Outbox } from './outbox.js';

/**
 * The agent's state directory:
 *
 *   agent.json              id, name, secret, server URLs (0600)
 *   outbox.jsonl            finished attempts' completions, until the server acknowledged them (Outbox)
 *   running.jsonl           command attempts that run under their supervisor (restart recovery;
 *                           a KeyedJournal: `{"put":…}` per record, `{"end":[[job, lease]]}`)
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

const RUNNING_FILE = 'running.jsonl';
/** The removal tag of the running journal: these attempts ended. */
const END = 'end';

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Reads and writes the state directory: agent.json atomically and fsynced, the outbox and
 * the running records as journals (KeyedJournal).
 */
export class AgentState {
  readonly outbox: Outbox;
  private readonly runningJournal: KeyedJournal<RunningRecord>;

  constructor(readonly dir: string) {
    this.outbox = new Outbox(dir);
    this.runningJournal = new KeyedJournal(join(dir, RUNNING_FILE), END);
  }

  init(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.outbox.open();
    // Earlier versions kept a file per record in running/: adopted, then removed.
    const legacy = join(this.dir, 'running');
    const older = existsSync(legacy)
      ? readdirSync(legacy)
          .filter((n) => n.endsWith('.json'))
          .sort()
          .flatMap((n) => readJson<RunningRecord>(join(legacy, n)) ?? [])
      : [];
    this.runningJournal.open(older);
    rmSync(legacy, { recursive: true, force: true });
  }

  readIdentity(): AgentIdentity | undefined {
    const id = readJson<AgentIdentity>(join(this.dir, 'agent.json'));
    return id && typeof id.secret === 'string' && typeof id.agentId === 'string' ? id : undefined;
  }

  writeIdentity(identity: AgentIdentity): void {
    writeJsonAtomic(join(this.dir, 'agent.json'), identity, 0o600);
  }

  /**
   * Records an attempt about to start, on disk when this returns: an agent killed between
   * this and the supervisor's start still finds (and follows or kills) it after a restart.
   * An append to the journal, ~10 µs, where a file per record (temp file, rename) took
   * 90–310 µs on the dev VM, on every command job's way to its spawn.
   */
  putRunning(r: RunningRecord): void {
    this.runningJournal.put({ ...r });
    this.runningJournal.flush();
  }

  /** A newer state of a running record (its shipped log offset), written by the end of this turn. */
  updateRunning(r: RunningRecord): void {
    this.runningJournal.put({ ...r });
  }

  /** The attempt ended and its outcome is in the outbox (flushed first by the caller). */
  deleteRunning(r: Pick<RunningRecord, 'jobId' | 'leaseId'>): void {
    this.runningJournal.remove([r]);
  }

  running(): RunningRecord[] {
    return [...this.runningJournal.values()];
  }

  close(): void {
    this.runningJournal.close();
    this.outbox.close();
  }
}

/** The running records in a state directory, without changing it (read-only). */
export function readRunningRecords(dir: string): RunningRecord[] {
  return readJournal<RunningRecord>(join(dir, RUNNING_FILE), END);
}

/** The hostname made a valid agent name (letters, digits, `_ . : @ -`; up to 128). */
export function defaultAgentName(hostname = os.hostname()): string {
  const name = hostname
    .replace(/[^A-Za-z0-9_.:@-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
  return name || 'agent';
}
