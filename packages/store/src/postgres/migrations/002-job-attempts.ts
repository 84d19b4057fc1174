import type { PgMigration } from '../postgres-migrations.js';

/**
 * One row per ended attempt (lease) of a job, written by the transaction that ended it (one
 * INSERT per batch); the running attempt is read from the job row. The primary key serves
 * a job's history in order. Retention deletes a job's rows with it.
 */
export const pgMigration002: PgMigration = {
  version: 2,
  name: 'job-attempts',
  sql: `
CREATE TABLE job_attempts (
  job_seq       bigint NOT NULL,
  started_at    bigint NOT NULL,
  lease_id      text NOT NULL,
  attempt       integer NOT NULL,
  agent_id      text NOT NULL,
  agent_name    text NOT NULL,
  ended_at      bigint NOT NULL,
  outcome       text NOT NULL,                   -- ATTEMPT_OUTCOMES in @offload/protocol
  exit_code     integer,
  signal        text,
  error_code    text,
  error_message text,
  PRIMARY KEY (job_seq, started_at, lease_id)
);
`,
};
