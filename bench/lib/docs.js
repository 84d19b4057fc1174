import {
  BATCH_SIZE,
  PROCESS_MAX,
  SHELL_CONCURRENCY,
  SINGLE_CONCURRENCY,
  TASK_MAX_JOBS,
} from './scenarios.js';

const NOTES_BEGIN = '<!-- NOTES:BEGIN -->';
const NOTES_END = '<!-- NOTES:END -->';

/**
 * The hand-written block of the previous file, if any.
 * @param {string} previous
 */
function previousNotes(previous) {
  const a = previous.indexOf(NOTES_BEGIN);
  const b = previous.indexOf(NOTES_END);
  if (a < 0 || b < a) return '_None yet._';
  return previous.slice(a + NOTES_BEGIN.length, b).trim();
}

/**
 * @typedef {object} RunRecord
 * @property {string} startedAt
 * @property {string} finishedAt
 * @property {string} command
 * @property {string} mode
 * @property {number} reps
 * @property {ReturnType<typeof import('./machine.js').machineInfo>} machine
 * @property {ReturnType<typeof import('./machine.js').gitInfo>} git
 * @property {string | null} buildWarning
 */

/**
 * docs/benchmarks.md: how to run, the latest table with its machine and commit, the method.
 * @param {{ record: RunRecord, table: string, failures: string[], previous: string }} input
 */
export function renderDocs({ record, table, failures, previous }) {
  const m = record.machine;
  const g = record.git;
  const secs = Math.round((Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000);
  const commit = g.commit
    ? `\`${g.commit.slice(0, 12)}\`${g.packagesDirty ? ` plus uncommitted changes in ${g.dirtyFiles} tracked file(s) under packages/ (dist/ is built from the working tree)` : ''}`
    : 'unknown (not a git checkout)';
  return `# Benchmarks

<!-- Rewritten by \`npm run bench\` (a quick or full run of every scenario). Only the block between the NOTES markers is hand-written; it is kept from run to run. -->

Throughput and latency of offload's server over real HTTP on loopback, with simulated agents
and submitters in their own processes. The harness is in \`bench/\`; it runs the built
packages (\`dist/\`), each measurement in a fresh server process over a fresh SQLite file.

\`\`\`sh
npm run bench                      # = --quick: 1 repetition, about 1–2 minutes
npm run bench -- --full            # 3 repetitions, more sizes, claim depth up to 1M
npm run bench -- --only process-2  # cases whose id contains the text (comma-separated)
npm run bench -- --only lone --perf      # + on-CPU profile of the server (Linux perf)
npm run bench -- --only lone --cpu-prof  # + V8 CPU profile of the server (bench/out/profiles/)
\`\`\`

Raw results go to \`bench/out/<timestamp>.json\` (not committed). \`--smoke\` (tiny sizes)
only checks that the harness works; \`tests/bench/bench-smoke.test.ts\` runs it in \`npm test\`.
The runner builds first (\`tsc -b tsconfig.build.json\`; \`--no-build\` skips it). Outside smoke
mode it waits up to 30 s (full: 60 s) before each case for the machine to be idle, and
measures a case again (at most twice) when other work took more than 60 % of a core during
it: this 2-core machine is shared.

## Latest results

- Command: \`${record.command}\` (${record.mode}, ${record.reps} repetition${record.reps > 1 ? 's' : ''}), started ${record.startedAt}, took ${secs} s
- Commit: ${commit}${record.buildWarning ? `\n- Build: ${record.buildWarning}` : ''}
- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}; load average at start ${m.loadAvg.join(' ')}
- Cells: ${record.reps > 1 ? 'median (min–max) over the repetitions' : 'one repetition (use --full for medians and ranges over 3)'}

> **The reference columns are not from this run.** "BullMQ ref" and "prototype ceiling" are
> constants (\`bench/lib/references.js\`) copied from earlier runs on this kind of machine:
> \`../shared/bench/anchors/RESULTS.md\` (BullMQ 6.7 on Redis, median of 3) and
> \`../shared/bench/limits/RESULTS.md\` (a bare HTTP + SQLite prototype with no auth,
> validation, events or leases: a ceiling, where 30–50 % is a good result). They were not
> measured side by side with offload; running the anchors in the same run is a later issue.
> "offload / reference" above 1× is better for jobs/s and worse for latencies.

${table}
${failures.length ? `\n**Failures in this run:**\n\n${failures.join('\n')}\n` : ''}
### Notes

${NOTES_BEGIN}
${previousNotes(previous)}
${NOTES_END}

## Scenarios

Every case starts its own server (\`bench/server.js\`: \`openSqliteStore\` + \`buildApp\` from
\`dist/\`, an admin credential, port 0 on 127.0.0.1, maintenance timers running) over a new
temp data dir, and its own client processes. Clients use undici keep-alive pools, never
\`fetch\`. Jobs are no-op task jobs, \`{task: 'noop', input: {i, user, action}}\` (about 70
bytes of input, like the anchors' payload). Simulated agents (\`bench/sim-agent.js\`) register
with a join token, \`capabilities: ['task:noop']\`, and report each job \`succeeded\` at once.

- **submit-single**: ${SINGLE_CONCURRENCY} concurrent loops in one submitter process, each
  \`POST /api/v1/jobs\` one job at a time, after an untimed warm-up of 500. jobs/s = N / wall
  time of the submitter. Checks that the server holds N + warm-up queued jobs.
- **submit-batch**: \`POST /api/v1/jobs/batch\` of ${BATCH_SIZE.toLocaleString('en-US')} jobs, one request at a
  time, after a 1,000-job warm-up.
- **process (1 agent / 2 agents)**: N jobs pre-filled through the batch route, then 1 or 2
  agent processes, started and registered first, are released together. Each loops
  \`POST /api/v1/agent/sync\` with \`max: ${PROCESS_MAX}\`, \`waitMs: 0\`, and the previous batch's
  completions riding on the next sync, until a sync returns no job. jobs/s = N / (last
  agent's last response − first agent's first request). Checks: the agents got N jobs in
  total with N distinct ids (each ran once), no completion was refused, and
  \`GET /api/v1/stats\` counts N succeeded.
- **lone-latency**: one agent long-polls (\`max: 50\`, \`waitMs: 25000\`; the server caps a poll
  at half the lease timeout, 15 s) and completes each job at once on its next poll. A
  submitter process sends sequential \`POST /api/v1/jobs?wait=10\` (the server holds the
  request until the job is terminal) and times each from send to response; after the
  warm-up, 1,000 are timed. Percentiles are nearest-rank. Shown with 300 warm-up jobs and
  with 3,000: the server's JIT is still cold after 300, and that costs about 2× in latency
  and server CPU.
- **claim-depth**: depth + warm-up jobs pre-filled; one agent runs sequential
  claim+complete cycles (\`max: 1\`, the previous job's completion on the same sync,
  \`waitMs: 0\`): the warm-up cycles take the oldest jobs, so exactly \`depth\` are queued when
  the 500 measured cycles start. Reports p50/p99 per depth and the ratio deep/shallow
  (per repetition). A claim should not get slower with depth: the prototype's SQLite-only
  claim was 0.9× at 1M vs 1k queued with the partial claim index.
- **shell-overhead** (real agent): one \`offload agent --max-jobs 1\` (the built CLI,
  \`packages/cli/bin/offload.js\`, in its own process, joined with a join token) and
  sequential \`POST /api/v1/jobs?wait=30\` of \`{command: ['true']}\` from the runner, timed
  from send to response after 10 warm-up jobs; then, in the same run, the same number of
  sequential bare \`child_process.spawn('true')\` timed from spawn to exit. Reports p50 and
  mean of both and their ratio (the target is ≤ 1.5×). Agent CPU counts the agent process and
  the children it reaped (the per-job supervisors and \`true\`), per job.
- **shell-throughput** (real agent): the same with ${SHELL_CONCURRENCY} submitters in flight and
  \`--max-jobs ${SHELL_CONCURRENCY}\` (jobs ask for \`requires.cpu: 0.1\`: the default 1 CPU would allow 2
  at once on this machine), against ${SHELL_CONCURRENCY} bare spawns in flight.
- **task-throughput (1 / 2 agents)** (real agent): N no-op task jobs pre-filled through the
  batch route, then 1 or 2 \`offload agent --tasks bench/fixtures/noop-tasks.mjs --max-jobs ${TASK_MAX_JOBS}\`
  started together. The runner polls \`GET /api/v1/stats\` every 20 ms: jobs/s = N / (first
  poll with all N succeeded − first poll with fewer than N queued). Server CPU covers the whole
  window, agent start-up and registration included.

## Columns

- **server CPU s per 1k jobs**: utime + stime of the server process (all threads, from
  \`/proc/PID/stat\`), read before and after the measured window, per 1,000 jobs of the
  window. Prefill and warm-up are outside the window.
- **server CPU %**: the same CPU time over the window's wall time; 100 = one core.
- **server peak RSS MiB**: \`VmHWM\` of the server at the end of the case (prefill included).
- **other load CPU %**: the whole machine's busy time (\`/proc/stat\`) during the window, less
  the server's and the benchmark clients' own CPU: other work on this shared 2-core machine
  (100 = one core). This VM shows ~10–15 with nothing running; well above that, the row's
  figures are depressed.

## Profiling

\`--perf\` samples the server's on-CPU time with Linux \`perf\` (cpu-clock, kernel included;
the server runs with \`--perf-basic-prof\` so JS functions have names) during each measured
window and prints its split by thread, shared object and symbol. For inclusive time per JS
function: \`perf report -i bench/out/perf/<run>/perf-<pid>-0.data --children --sort sym --tid <pid>\`.
\`--cpu-prof\` runs the server under \`node --cpu-prof\`, cuts the profile to the window and
prints self and inclusive time per function and package; \`node bench/profile-top.js FILE\`
summarizes any \`.cpuprofile\`. V8's sampler counts time the thread spent descheduled as
time in the function it was in (here, often \`writev\`, whose wake-up of the client gets the
server preempted on 2 cores): trust \`--perf\` for shares of CPU.
`;
}
