import type { PgMigration } from '../postgres-migrations.js';

/**
 * The first PostgreSQL schema: the SQLite one's shape (times are epoch-ms bigints, JSON is
 * text — the payload is handed to agents verbatim, so it must not be re-serialised as
 * jsonb would — flags are 0/1 integers), so one row mapping serves both backends.
 *
 * Every hot query has a partial index whose predicate the query repeats, so a claim, a
 * sweep or a reap reads only live rows: finished jobs (most of the table under retention)
 * are in none of those indexes. `postgres-query-plans.test.ts` checks the plans on
 * analysed data.
 */
export const pgMigration001: PgMigration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE job_classes (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key        text NOT NULL UNIQUE,
  class_json text NOT NULL
);

CREATE TABLE jobs (
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- submission order; FIFO tie-breaker; list cursor
  id               text NOT NULL UNIQUE,
  name             text NOT NULL,
  kind             text NOT NULL,
  queue            text NOT NULL,
  class_id         bigint NOT NULL,
  payload          text NOT NULL,
  priority         integer NOT NULL,              -- priorityRank: critical=0 .. low=3
  timeout_sec      double precision NOT NULL,
  max_attempts     integer NOT NULL,
  backoff          text NOT NULL,
  expire_at        bigint,
  idempotency_key  text,
  tags             text NOT NULL,
  state            text NOT NULL,
  attempt          integer NOT NULL,
  run_at           bigint,
  queued_at        bigint,
  lease_id         text,
  agent_id         text,
  agent_name       text,
  gpus             text NOT NULL DEFAULT '[]',
  cancel_requested integer NOT NULL DEFAULT 0,
  exit_code        integer,
  signal           text,
  result           text,                          -- JSON; NULL means no result (undefined)
  error            text,
  progress         text,
  usage            text,
  created_at       bigint NOT NULL,
  started_at       bigint,
  finished_at      bigint,
  deadline_at      bigint,                        -- running: started_at + timeout_sec * 1000
  log_seq          integer NOT NULL DEFAULT 0,
  log_bytes        bigint NOT NULL DEFAULT 0,
  log_truncated    integer NOT NULL DEFAULT 0
);

-- The claim: one short range per (class, priority), locked with SKIP LOCKED.
CREATE INDEX jobs_claim ON jobs (class_id, priority, queued_at, seq) WHERE state = 'queued';
CREATE INDEX jobs_running_agent ON jobs (agent_id) WHERE state = 'running';
CREATE INDEX jobs_promote ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_expire ON jobs (expire_at) WHERE state IN ('scheduled', 'queued') AND expire_at IS NOT NULL;
CREATE INDEX jobs_deadline ON jobs (deadline_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'failed', 'canceled', 'expired');
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_state_seq ON jobs (state, seq);
CREATE INDEX jobs_queue_seq ON jobs (queue, seq);
CREATE INDEX jobs_agent_name_seq ON jobs (agent_name, seq) WHERE agent_name IS NOT NULL;

CREATE TABLE job_tags (
  key     text NOT NULL,
  value   text NOT NULL,
  job_seq bigint NOT NULL,
  PRIMARY KEY (key, value, job_seq)
);

CREATE TABLE job_logs (
  job_seq bigint NOT NULL,
  seq     integer NOT NULL,
  stream  text NOT NULL,
  data    text NOT NULL,
  bytes   integer NOT NULL,
  at      bigint NOT NULL,
  PRIMARY KEY (job_seq, seq)
);

-- Counts by (queue, state), maintained in the jobs' own transactions so counting never
-- scans jobs. Each transaction adds its deltas to one of 16 shards picked at random:
-- a single row per (queue, state) would make every claim and completion of a queue wait
-- for the previous one's commit. Readers sum the shards.
CREATE TABLE job_counts (
  queue text NOT NULL,
  state text NOT NULL,
  shard smallint NOT NULL,
  n     bigint NOT NULL,
  PRIMARY KEY (queue, state, shard)
);

CREATE TABLE queues (
  name   text PRIMARY KEY,
  paused integer NOT NULL
);

CREATE TABLE agents (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  state        text NOT NULL,
  capabilities text NOT NULL,
  tier         integer NOT NULL,
  pools        text NOT NULL,
  max_jobs     integer NOT NULL,
  resources    text NOT NULL,
  hostname     text,
  os           text,
  arch         text,
  version      text,
  last_seen_at bigint NOT NULL,
  created_at   bigint NOT NULL
);
CREATE UNIQUE INDEX agents_live_name ON agents (name) WHERE state <> 'revoked';
CREATE INDEX agents_reap ON agents (last_seen_at) WHERE state IN ('online', 'draining');

CREATE TABLE credentials (
  seq          bigint GENERATED ALWAYS AS IDENTITY, -- creation order, the list's tie-breaker
  id           text PRIMARY KEY,
  kind         text NOT NULL,
  name         text NOT NULL,
  hash         text NOT NULL,
  scopes       text NOT NULL,
  queues       text,
  capabilities text,
  agent_id     text,
  single_use   integer NOT NULL,
  used_at      bigint,
  expires_at   bigint,
  revoked_at   bigint,
  last_used_at bigint,
  created_at   bigint NOT NULL
);
CREATE UNIQUE INDEX credentials_hash ON credentials (hash);
CREATE INDEX credentials_created ON credentials (created_at, seq);
`,
};
