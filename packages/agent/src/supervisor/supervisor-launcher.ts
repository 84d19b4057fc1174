import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  jobFile,
  readJsonFile,
  type ExitInfo,
  type JobSpec,
  type SupervisorInfo,
} from './job-files.js';
import { bootId, isSameProcess } from './proc.js';

/** The supervisor script beside this module: src/ under vitest, dist/ once built. */
export const SUPERVISOR_SCRIPT = fileURLToPath(new URL('./job-supervisor.js', import.meta.url));

const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

/** `<stateDir>/jobs/<jobId>-<attempt>`; refuses ids that could leave the jobs directory. */
export function jobDirPath(stateDir: string, jobId: string, attempt: number): string {
  if (!SAFE_ID.test(jobId) || jobId.includes('..'))
    throw new Error(`job id ${JSON.stringify(jobId)} cannot name a job directory`);
  if (!Number.isInteger(attempt) || attempt < 1)
    throw new Error(`attempt ${attempt} is not a positive integer`);
  return join(stateDir, 'jobs', `${jobId}-${attempt}`);
}

/**
 * Starts the supervisor for a prepared job directory: detached (its own session), stdin
 * ignored, stdout/stderr to supervisor.log, an empty environment (the command's environment is
 * in env.json, so e.g. a job's NODE_OPTIONS cannot affect the supervisor). Not a pipe in sight,
 * so the agent may die at any time without touching the job.
 */
export function launchSupervisor(jobDir: string): ChildProcess {
  const logFd = openSync(jobFile(jobDir, 'supervisorLog'), 'a', 0o600);
  try {
    const child = spawn(
      process.execPath,
      ['--max-semi-space-size=1', '--max-old-space-size=64', SUPERVISOR_SCRIPT, jobDir],
      { cwd: jobDir, detached: true, stdio: ['ignore', logFd, logFd], env: {} },
    );
    child.unref();
    return child;
  } finally {
    closeSync(logFd);
  }
}

function readJsonQuiet(file: string): unknown {
  try {
    return readJsonFile(file);
  } catch {
    return undefined; // unreadable or torn (never by our own atomic writes): treat as absent
  }
}

export const readSpec = (dir: string) => readJsonQuiet(jobFile(dir, 'spec')) as JobSpec | undefined;
export const readSupervisorInfo = (dir: string) =>
  readJsonQuiet(jobFile(dir, 'supervisor')) as SupervisorInfo | undefined;
export const readExitInfo = (dir: string) =>
  readJsonQuiet(jobFile(dir, 'exit')) as ExitInfo | undefined;

/** Is this the same supervisor process (same boot, pid and start time)? */
export function supervisorAlive(info: SupervisorInfo): boolean {
  if (info.bootId !== null && info.bootId !== bootId()) return false;
  return isSameProcess(info.supervisorPid, info.supervisorStartTime);
}
