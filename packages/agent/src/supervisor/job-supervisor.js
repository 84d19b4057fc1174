// The per-job supervisor: `node job-supervisor.js <jobDir>`.
//
// Why it exists (SPEC §4, restart recovery): a job must outlive its agent. The agent starts
// this script detached (own session, stdio to files, no pipe back), so killing the agent —
// even with -9 — leaves the job running. The supervisor is the command's parent: it copies the
// command's stdout/stderr into output.log, enforces the timeout, kills the whole tree on
// request (SIGTERM to the supervisor, with kill-request.json saying why), reaps the command,
// and leaves the exit status and usage in exit.json for whichever agent looks next.
//
// It is the model of conmon (Podman's per-container monitor). Most jobs go to the shared
// supervisor host instead (supervisor-host.js: the same supervision, one process for all jobs),
// because starting Node costs ~40 ms per job; this one remains for jobs with `nice` (it renices
// itself before the spawn so every process of the job inherits it) and when the host cannot start.
import { superviseJob, ChildTicks } from './supervise-job.js';
import { readProcStat } from './proc.js';

const jobDir = process.argv[2] ?? '';
if (!jobDir) {
  process.stderr.write('usage: job-supervisor.js <jobDir>\n');
  process.exit(2);
}

/** @type {import('./supervise-job.js').JobHandle | null} */
let job = null;
// Nothing but our own kill protocol may stop us: no terminal, and SIGTERM means "kill the job".
let termBeforeStart = false;
process.on('SIGTERM', () => {
  if (job) job.requestKill();
  else termBeforeStart = true;
});
for (const sig of /** @type {const} */ (['SIGHUP', 'SIGINT', 'SIGPIPE', 'SIGUSR1', 'SIGUSR2'])) {
  process.on(sig, () => {});
}
// A bug here must not leave an unobserved job: kill the tree and say why in exit.json.
process.on('uncaughtException', (err) => {
  process.stderr.write(`${err.stack ?? String(err)}\n`);
  if (job) {
    job.crash(err);
    void job.done.then(() => process.exit(0));
  } else process.exit(1);
});

const self = readProcStat('self');
job = superviseJob(jobDir, {
  pid: process.pid,
  startTime: self?.startTime ?? null,
  ownNice: true,
  childTicks: new ChildTicks(),
});
process.title = `offload-supervisor ${jobDir.split('/').pop() ?? ''}`;
if (termBeforeStart) job.requestKill();
void job.done.then(() => process.exit(0));
