import type { Migration } from '../sqlite-migrations.js';

/**
 * The first schema. Times are integer epoch ms. Every hot query has a partial index
 * whose WHERE clause the query repeats literally (SQLite only uses a partial index when
 * the query's terms imply it); `sqlite-query-plans.test.ts` checks none of them scans.
 */
export const migration001: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE job_classes (
  id         INTEGER PRIMARY KEY,
  key        TEXT NOT NULL UNIQUE,
  class_json TEXT NOT NULL
);

CREATE TABLE jobs (
  seq              INTEGER PRIMARY KEY,           -- submission order; FIFO tie-breaker; list cursor
  id               TEXT NOT NULL UNIQUE,
  name             TEXT NOT NULL,
  kind             TEXT NOT NULL,
  queue            TEXT NOT NULL,
  class_id         INTEGER NOT NULL,              -- requirements live in job_classes
  payload          TEXT NOT NULL,                 -- JSON text exactly as submitted; handed to agents verbatim
  priority         INTEGER NOT NULL,              -- priorityRank: critical=0 .. low=3
  timeout_sec      REAL NOT NULL,
  max_attempts     INTEGER NOT NULL,
  backoff          TEXT NOT NULL,
  expire_at        INTEGER,
  idempotency_key  TEXT,
  tags             TEXT NOT NULL,
  state            TEXT NOT NULL,
  attempt          INTEGER NOT NULL,
  run_at           INTEGER,
  queued_at        INTEGER,
  lease_id         TEXT,
  agent_id         TEXT,
  agent_name       TEXT,
  gpus             TEXT NOT NULL DEFAULT '[]',
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  exit_code        INTEGER,
  signal           TEXT,
  result           TEXT,                          -- JSON; NULL means no result (undefined)
  error            TEXT,
  progress         TEXT,
  usage            TEXT,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  deadline_at      INTEGER,                       -- running: started_at + timeout_sec * 1000
  log_seq          INTEGER NOT NULL DEFAULT 0,
  log_bytes        INTEGER NOT NULL DEFAULT 0,
  log_truncated    INTEGER NOT NULL DEFAULT 0
);

-- The claim: a short range per (class, priority); completing a job does not touch it.
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
  key     TEXT NOT NULL,
  value   TEXT NOT NULL,
  job_seq INTEGER NOT NULL,
  PRIMARY KEY (key, value, job_seq)
) WITHOUT ROWID;

CREATE TABLE job_logs (
  job_seq INTEGER NOT NULL,
  seq     INTEGER NOT NULL,
  stream  TEXT NOT NULL,
  data    TEXT NOT NULL,
  bytes   INTEGER NOT NULL,
  at      INTEGER NOT NULL,
  PRIMARY KEY (job_seq, seq)
);

-- Maintained in the same transactions as the jobs, so counts never scan jobs.
CREATE TABLE queue_counts (
  queue TEXT NOT NULL,
  state TEXT NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, state)
) WITHOUT ROWID;

CREATE TABLE queues (
  name   TEXT PRIMARY KEY,
  paused INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE agents (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  state        TEXT NOT NULL,
  capabilities TEXT NOT NULL,
  tier         INTEGER NOT NULL,
  pools        TEXT NOT NULL,
  max_jobs     INTEGER NOT NULL,
  resources    TEXT NOT NULL,
  hostname     TEXT,
  os           TEXT,
  arch         TEXT,
  version      TEXT,
  last_seen_at INTEGER NOT NULL,
  created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX agents_live_name ON agents (name) WHERE state != 'revoked';
CREATE INDEX agents_reap ON agents (last_seen_at) WHERE state IN ('online', 'draining');

CREATE TABLE credentials (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  name         TEXT NOT NULL,
  hash         TEXT NOT NULL,
  scopes       TEXT NOT NULL,
  queues       TEXT,
  capabilities TEXT,
  agent_id     TEXT,
  single_use   INTEGER NOT NULL,
  used_at      INTEGER,
  expires_at   INTEGER,
  revoked_at   INTEGER,
  last_used_at INTEGER,
  created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX credentials_hash ON credentials (hash);
CREATE INDEX credentials_created ON credentials (created_at);
`,
};
