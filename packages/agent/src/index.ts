// @offload/agent — the job-running half of the agent daemon: per-job supervisor, command and
// task executors, resource detection and accounting. The daemon loop (registration, sync,
// heartbeats, recovery) builds on these.
export * from './executors/job-outcome.js';
export * from './executors/job-env.js';
export * from './executors/progress-line.js';
export * from './executors/output-batcher.js';
export * from './executors/command-executor.js';
export * from './executors/task-module.js';
export * from './executors/task-executor.js';
export { SUPERVISOR_SCRIPT, jobDirPath } from './supervisor/supervisor-launcher.js';
export {
  JOB_FILES,
  type ExitInfo,
  type JobSpec,
  type KillReason,
  type SupervisorInfo,
} from './supervisor/job-files.js';
export { isSameProcess, treeAlive, treeMembers, type JobTree } from './supervisor/proc.js';
export * from './resources/gpu-detect.js';
export * from './resources/detect-resources.js';
export * from './resources/resource-pool.js';
export * from './resources/cpu-load.js';
// The daemon: registration, sync and heartbeat loops, log shipping, outbox, restart recovery.
export * from './daemon/agent-api.js';
export * from './daemon/agent-daemon.js';
export * from './daemon/agent-state.js';
