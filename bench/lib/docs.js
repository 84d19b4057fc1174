import {
  BATCH_SIZE,
  PROCESS_MAX,
  SHELL_CONCURRENCY,
  SINGLE_CONCURRENCY,
  TASK_MAX_JOBS,
} from './modes.js';

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
 * @property {Awaited<ReturnType<typeof import('./machine.js').versionsInfo>>} versions
 * @property {string | null} buildWarning
 */

/**
 * docs/benchmarks.md: how to run, the latest table with its machine, versions and command,
 * the hand-written notes, the method.
 * @param {{ record: RunRecord, table: string, failures: string[], previous: string }} input
 */
export function renderDocs({ record, table, failures, previous }) {
  const m = record.machine;
  const g = record.git;
  const v = record.versions;
  const secs = Math.round((Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000);
  const commit = g.commit
    ? `\`${g.commit.slice(0, 12)}\`${g.packagesDirty ? ` plus uncommitted changes in ${g.dirtyFiles} tracked file(s) under packages/ (dist/ is built from the working tree)` : ''}`
    : 'unknown (not a git checkout)';
  const absent = (/** @type {string | null} */ x) => x ?? 'not reachable: its anchors were skipped';
  return `# Benchmarks

<!-- Rewritten by \`npm run bench\` (a quick or full run of every case). Only the block between the NOTES markers is hand-written; it is kept from run to run. -->

Is offload as fast as what users would pick instead? One run measures offload — on SQLite and
on PostgreSQL, over real HTTP on loopback, with the real agent — and, on the same machine and
in the same run, the anchors: **BullMQ** (Redis), **pg-boss** and **graphile-worker**
(PostgreSQL), at their best settings from \`../shared/bench/anchors/RESULTS.md\` — and the floor
of offload's own design: a bare HTTP + SQLite **prototype** (\`bench/prototype/\`, after
\`../shared/bench/limits/RESULTS.md\`) with no auth, validation, leases or events. The table
puts each figure beside the others and beside that floor, and the targets of issue 7 as
ratios marked met or missed; the same targets applied to the prototype say whether a target
is within the design's reach on this host in this run.

\`\`\`sh
npm run bench                        # = --quick: smaller sizes, 1 repetition, a few minutes
npm run bench -- --full              # the issue's sizes, 3 repetitions: median (min–max)
npm run bench -- --only process-1    # cases whose id (group@size/system) contains the text
npm run bench -- --only bullmq,offload-sqlite   # comma-separated; systems: offload-sqlite,
                                     # offload-postgres, bullmq, pgboss, graphile, prototype
npm run bench -- --only lone --perf      # + on-CPU profile of the server (Linux perf)
npm run bench -- --only lone --cpu-prof  # + V8 CPU profile of the server (bench/out/profiles/)
npm run bench -- --only process-1 --alloc-prof  # + the server's allocations (bench/out/alloc/)
npm run bench -- --only lone --segments  # + a lone job's legs on the server's clock
\`\`\`

Redis (\`OFFLOAD_BENCH_REDIS\`, default 127.0.0.1:6379) and PostgreSQL
(\`OFFLOAD_BENCH_POSTGRES_URL\`, else \`OFFLOAD_TEST_POSTGRES_URL\`, else
\`postgres://postgres@127.0.0.1:5432/test\`) are used when they answer; a system whose database
does not answer is skipped with one line saying why, and a target that needed it is judged
against that anchor's figure from an earlier run (the last column), labelled as such. Every
case works in a schema of its own (\`bench_<random>\`), dropped after it; BullMQ uses Redis
database 11, flushed before and after.

Raw results go to \`bench/out/<timestamp>.json\` (not committed). \`--smoke\` (tiny sizes)
only checks that the harness works; \`tests/bench/bench-smoke.test.ts\` runs it. The runner
builds first (\`tsc -b tsconfig.build.json\`; \`--no-build\` skips it). Outside smoke mode it
waits up to 10 s (full: 60 s) before each case for the machine to be idle, and measures a case
again (once; full: twice) when other work took more than 60 % of a core during it: this
2-core machine is shared.

## Latest results

- Command: \`${record.command}\` (${record.mode}, ${record.reps} repetition${record.reps > 1 ? 's' : ''}), started ${record.startedAt}, took ${secs} s
- offload commit: ${commit}${record.buildWarning ? `\n- Build: ${record.buildWarning}` : ''}
- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}; load average at start ${m.loadAvg.join(' ')}
- Anchors: BullMQ ${v.bullmq ?? '?'} (ioredis ${v.ioredis ?? '?'}), pg-boss ${v.pgBoss ?? '?'}, graphile-worker ${v.graphileWorker ?? '?'} (pg ${v.pg ?? '?'})
- Redis: ${absent(v.redis)}; PostgreSQL: ${absent(v.postgres)}
- Cells: ${record.reps > 1 ? 'median (min–max) over the repetitions' : 'one repetition (use --full for medians and ranges over 3)'}; "offload / anchor" and the targets are ratios of figures of this run

${table}
${failures.length ? `\n**Failures in this run:**\n\n${failures.join('\n')}\n` : ''}
### Notes

${NOTES_BEGIN}
${previousNotes(previous)}
${NOTES_END}

## What is measured

Every system is measured on the same four things, each case in fresh processes over a fresh
store. Jobs carry about 70 bytes of input (\`{i, user, action}\`), like the anchors' payload.

- **enqueue, bulk**: N jobs in adds of ${BATCH_SIZE.toLocaleString('en-US')} (offload \`POST /api/v1/jobs/batch\`,
  BullMQ \`addBulk\`, pg-boss \`insert\`, graphile-worker \`addJobs\`), one at a time, after an
  untimed warm-up; no worker running. jobs/s = N / wall time.
- **enqueue, single**: N single adds from ${SINGLE_CONCURRENCY} concurrent loops in one process (offload
  \`POST /api/v1/jobs\`), after an untimed warm-up of 500.
- **processing** (1 agent / worker; offload also 2): N no-op jobs queued first, then the
  workers started; jobs/s from the first job taken to the last completion. offload: the real
  agent, \`offload agent --tasks bench/fixtures/noop-tasks.mjs --max-jobs ${TASK_MAX_JOBS}\` (the built CLI),
  timed by polling \`GET /api/v1/stats\` every 20 ms. Anchors: the worker in its own process
  with a no-op handler, from its first handler call to the N-th completion seen in the queue's
  storage (polled every 2 ms once the handler has run N times). Settings: BullMQ concurrency
  100; pg-boss \`batchSize: 100, burstWhenBatchFull\`; graphile-worker concurrency 10 with
  \`localQueue: {size: 10}\` and \`completeJobBatchDelay: 0\` (its best in the anchor run; 100
  was slower and needs 102 connections).
- **lone-job latency**: an idle, running worker; after the warm-up, N sequential jobs, each
  timed from submit to completion seen by the submitter; nearest-rank percentiles and the
  worst job (max ms). offload:
  the real agent (\`offload agent --max-jobs 1 --tasks\`, a no-op task) long-polling, the
  submitter's \`POST /api/v1/jobs?wait=10\` held by the server until the job is terminal.
  Every worker runs one job at a time (the anchors at concurrency 1). BullMQ: \`job.waitUntilFinished(QueueEvents)\`;
  pg-boss (\`useListenNotify\`, queue \`notify\`, 0.5 s poll) and graphile-worker (defaults,
  LISTEN/NOTIFY) have no cross-process completion event: the producer polls the job row every
  ~1 ms, which adds ~0.5–1 ms.

offload only:

- **processing, servers on one PostgreSQL**: 1 and 3 servers on one schema, 3 real agents
  spread over them (agent i on server i mod N); jobs filled through the first server. Server
  CPU is all servers'. **lone-job latency, servers on one PostgreSQL**: the submitter talks to
  the first server and the agent to the last, so with 3 servers every job crosses servers;
  capped in time (warm-up and measured part each), with the number of jobs timed shown.
- **lone-job latency, simulated agent**: as above with \`bench/sim-agent.js\` long-polling
  (\`max: 50\`), which answers each job at once on its next sync: the server's part of the
  latency. Three servers on one PostgreSQL use it too.
- **processing, simulated agents**: the protocol's ceiling with \`bench/sim-agent.js\`, which
  syncs \`max: ${PROCESS_MAX}\`, \`waitMs: 0\`, completions riding on the next sync; checks each
  job ran once.
- **claim+complete at depth**: depth + warm-up jobs queued; one simulated agent runs
  sequential claim+complete cycles (\`max: 1\`); exactly \`depth\` are queued when the measured
  cycles start. Also the server's RSS with the queue filled: when the measured cycles start,
  and (\`--full\`, deepest case) once the server is quiet after them — V8 gives the fill's
  garbage back only after ~25–30 s without work, so the first reading moves with it; the
  target is judged on the quiet one, the peak while filling is in the peak RSS column.
- **shell-overhead**: one real agent (\`--max-jobs 1\`), sequential
  \`POST /api/v1/jobs?wait=30\` of \`{command: ['true']}\` after the mode's warm-up jobs,
  against as many sequential bare \`child_process.spawn('true')\` from a fresh Node process in
  the same run (\`bench/bare-spawn.js\`: a fork costs more from a process holding more memory,
  as the runner does after the large cases). The agent's CPU column includes its supervisor
  host and the commands the host spawned.
  **shell-throughput**: ${SHELL_CONCURRENCY} in flight (\`requires.cpu: 0.1\`) against ${SHELL_CONCURRENCY} bare spawns
  in flight.

## Columns

- **offload / anchor**: offload's figure over the same-store anchor's in this run: SQLite
  against BullMQ, PostgreSQL against graphile-worker (processing with 2 agents against the one
  worker). Above 1× is better for jobs/s, worse for latencies.
- **prototype ceiling**: the design's floor for offload on SQLite: the prototype's median in
  this run (\`bench/prototype/server.js\`: Fastify and better-sqlite3, WAL, a partial claim
  index, one set-based \`UPDATE … RETURNING\` a claim, payload text passed through, completions
  on the next claim, 500 a claim for processing and a 30 s long poll of 50 for the lone job,
  whose submitter the server answers once the job completes), with offload / it; marked
  "(limits run)" when the prototype did not run and the limits run's figure stands in. Its own
  rows book its server in the server columns.
- **design floor** rows: the prototype's figure over BullMQ's in this run, judged as the
  SQLite targets are; a floor that misses a target means no HTTP + SQLite design reaches it
  here.
- **target**: issue 7's targets, each a ratio per repetition (median and range), met or
  missed on the median: processing ≥ 1.0× BullMQ (SQLite) and graphile-worker (PostgreSQL),
  aim 1.5×; lone-job p50 and p99 ≤ 1.0× BullMQ; claim latency at 1M queued ≤ 1.5× at 1k;
  server RSS ≤ 300 MB with 1M queued; shell job ≤ 1.5× a bare spawn.
- **CPU s / 1k jobs**: utime + stime (\`/proc/PID/stat\`, all threads) over the measured
  window, per 1,000 jobs of the window: the server(s); the agents (and the children they
  reaped) or the anchor's worker; the database (redis-server, or the postmaster with its live
  and reaped backends — other users of that PostgreSQL count too). SQLite runs inside the
  server.
- **peak RSS**: \`VmHWM\` at the end of the case.
- **other load CPU %**: the machine's busy time (\`/proc/stat\`) during the window less the
  processes above and the bench's own clients: other work on this shared machine (100 = one
  core); well above ~15, the row's figures are depressed.

## Profiling

\`--perf\` samples the server's on-CPU time with Linux \`perf\` (cpu-clock, kernel included;
the server runs with \`--perf-basic-prof\` so JS functions have names) during each measured
window and prints its split by thread, shared object and symbol. For inclusive time per JS
function: \`perf report -i bench/out/perf/<run>/perf-<pid>-0.data --children --sort sym --tid <pid>\`.
\`--cpu-prof\` runs the server under \`node --cpu-prof\`, cuts the profile to the window and
prints self and inclusive time per function and package; \`node bench/profile-top.js FILE\`
summarizes any \`.cpuprofile\`; \`BENCH_AGENT_CPU_PROF=DIR\` does the same for the real agents.
V8's sampler counts time the thread spent descheduled as time in the function it was in:
trust \`--perf\` for shares of CPU. \`--alloc-prof\` samples what the server allocates in each
window (V8's sampling heap profiler, with the objects garbage collection took since kept in:
the allocation rate the scavenges pay for, not what stays in the heap) and prints the bytes
by package and by allocating function.
\`--segments\` splits each lone job into four legs timed on the server's clock, in Node's
HTTP layer (a preload in the server: when a request's headers were parsed, when its answer
was handed to the socket), for offload's server and the prototype's alike: \`handOff\` (the
submit in → the agent's parked sync answered with the job), \`agentTurn\` (that answer out →
the agent's next sync in: loopback both ways and the agent's work), \`answer\` (the sync with
the completion in → the submitter's wait answered) and \`clientTurn\` (the submitter's turn).
It prints p50 / mean / p99 of each over the measured jobs.
`;
}
