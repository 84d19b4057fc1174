import type { Migration } from '../sqlite-migrations.js';

/**
 * One row per ended attempt (lease) of a job, written by the transaction that ended it; the
 * running attempt is read from the job row. Clustered by job and start, so a job's history
 * is one short range read in order. Retention deletes a job's rows with it.
 */
export const migration002: Migration = {
  version: 2,
  name: 'job-attempts',
  sql: `
CREATE TABLE job_attempts (
  job_seq       INTEGER NOT NULL,
  started_at    INTEGER NOT NULL,
  lease_id      TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  agent_id      TEXT NOT NULL,
  agent_name    TEXT NOT NULL,
  ended_at      INTEGER NOT NULL,
  outcome       TEXT NOT NULL,                   -- ATTEMPT_OUTCOMES in @offload/protocol
  exit_code     INTEGER,
  signal        TEXT,
  error_code    TEXT,
  error_message TEXT,
  PRIMARY KEY (job_seq, started_at, lease_id)
) WITHOUT ROWID;
`,
};
