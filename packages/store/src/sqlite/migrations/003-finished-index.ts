import type { Migration } from '../sqlite-migrations.js';

/**
 * jobs_finished's condition as ORs of equalities instead of `state IN (4 values)`. Every
 * UPDATE that changes state evaluates the condition of each partial index on state, for
 * the old row and the new; SQLite codes an IN over more than two constants as a lookup in
 * an ephemeral table that it builds again on every run of the statement. Measured on 60k
 * jobs (2-vCPU VM, UPDATE + commit in batches of 50): claim 8.2 → 5.8 µs a row, completion
 * 6.2 → 3.8 µs. The purge reads the index with the same OR condition, which is what lets
 * the planner use it.
 */
export const migration003: Migration = {
  version: 3,
  name: 'finished-index-without-in',
  sql: `
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (finished_at)
  WHERE state = 'succeeded' OR state = 'failed' OR state = 'canceled' OR state = 'expired';
`,
};
