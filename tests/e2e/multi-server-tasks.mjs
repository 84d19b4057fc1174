// Task handlers for the multi-server test's agents: a no-op that records its run.
import { appendFileSync } from 'node:fs';

const runs = process.env.E2E_RUNS_FILE;
const agent = process.env.E2E_AGENT ?? '?';

export default {
  /**
   * Appends "<job id> <attempt> <agent>" to the runs file: the ground truth for "ran exactly
   * once", whatever the servers say. One short write(2) with O_APPEND: lines of concurrent
   * agents do not interleave.
   * @param {unknown} _input
   * @param {{ jobId: string, attempt: number }} ctx
   */
  noop: (_input, ctx) => {
    if (runs) appendFileSync(runs, `${ctx.jobId} ${ctx.attempt} ${agent}\n`);
  },
};
