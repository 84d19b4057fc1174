import type {
  AgentRecord,
  AttemptOutcome,
  JobClass,
  JobError,
  JobRecord,
  Progress,
} from '@offload/core';
import type {
  AgentResources,
  AttemptOutcomeName,
  JobState,
  KeyKind,
  Priority,
  Scope,
} from '@offload/protocol';

/**
 * The one Store interface, in the language of the queue. Each method takes one params
 * object and states its guarantee; no connection or transaction type leaks out. Both
 * backends run the conformance suite in `store/testing`. Errors are ApiErrors from the
 * registry (JOB_NOT_FOUND, INVALID_STATE, AGENT_NAME_TAKEN, ...); anything else is a
 * store failure the server turns into 503.
 */
export interface Store {
  readonly capabilities: StoreCapabilities;

  /** Liveness of the backing database (for /readyz). Throws when unreachable. */
  ping(): Promise<void>;
  /** Releases the file lock / connections. Idempotent. */
  close(): Promise<void>;

  /**
   * Changes committed by the other servers sharing this store (capabilities.changeFeed),
   * for the dispatcher's wake-ups and the event hub; never this process's own, which it
   * knows already. One delivery per committed transaction (a batch), not per job — a
   * few for a batch too large for one notification.
   * `resync` means some may have been missed — it comes once the feed starts listening,
   * after it reconnects, and for a batch of thousands of jobs: reload what is cached,
   * re-check what is awaited. Returns the unsubscribe.
   * A store without a feed never calls the listener.
   */
  subscribeChanges(listener: (changes: StoreChanges) => void): () => void;

  /**
   * Campaigns to be the one server that runs periodic maintenance (lease reaping, due-time
   * sweeps, retention) among those sharing this store: `onChange(true)` when this process
   * becomes the leader, `onChange(false)` when it stops being it (its database session
   * was lost). A store that serves one server makes it the leader at once. The returned
   * function stops campaigning, stepping down first. close() stops every campaign.
   */
  campaign(onChange: (leader: boolean) => void): () => Promise<void>;

  // ---- jobs -------------------------------------------------------------------------

  /**
   * Stores new jobs, all or none, in one transaction. A job whose idempotencyKey is already
   * used is not stored; its entry in the result is the existing job with `created: false`.
   * Results are in input order.
   */
  jobsSubmit(p: { jobs: JobRecord[] }): Promise<SubmitResult[]>;

  jobGet(p: { id: string }): Promise<JobRecord | null>;

  /**
   * Several jobs by id in one query (an index lookup per id, never a scan), as they are
   * now: for a server applying a batch of other servers' changes, one read per delivery.
   * In the order of `ids`, each job once (a repeated id is answered at its first place);
   * an unknown id is simply absent. An empty `ids` reads nothing.
   */
  jobsGet(p: { ids: readonly string[] }): Promise<JobRecord[]>;

  /** Newest first; `cursor` is opaque and comes from the previous page. */
  jobsList(p: JobListParams): Promise<{ jobs: JobRecord[]; nextCursor: string | null }>;

  /**
   * Claims up to `max` queued jobs for one agent, atomically: no job is ever handed to two
   * claims. Looks only at `classes` (the caller has decided which requirement classes the
   * agent accepts, including paused queues and tier grace: a class with `queuedBefore`
   * yields only jobs queued at or before it). Order: priority, then queuedAt, then
   * submission. Jobs are taken while they fit the agent's free resources, computed inside
   * the transaction from its running attempts, so concurrent claims by one agent cannot
   * over-commit it. Cost is a short index lookup per non-empty class, independent of queue
   * depth. Each claimed job gets a fresh lease id and its GPUs.
   *
   * The agent's stored state, read inside the transaction, overrides the caller's record:
   * an agent stored as anything but online claims nothing, so a drain or revoke that
   * committed before the claim began holds even when the caller read the agent earlier
   * (a claim on PostgreSQL can wait for a pool connection while a drain and a submit go by).
   * An agent the store does not hold is the caller's to vouch for.
   */
  jobsClaim(p: ClaimRequest): Promise<ClaimedAttempt[]>;

  /**
   * jobsSubmit, then jobsClaim for `claim.agent`, in one transaction: the hand-off of new
   * work to an agent that waits for it. Both parts keep their own rules (the claim takes the
   * head of its classes, which may be older jobs than these); what one of them refuses
   * rolls back both. One commit instead of two on the lone job's path.
   */
  jobsSubmitAndClaim(p: {
    jobs: JobRecord[];
    claim: ClaimRequest;
  }): Promise<{ submitted: SubmitResult[]; claimed: ClaimedAttempt[] }>;

  /**
   * Applies attempt outcomes reported by `agentId`, in one transaction. Each is applied only
   * if its lease is the job's current one and held by this agent; otherwise its result is
   * `stale` and nothing changes (fencing). Uses core's completeAttempt for the new state.
   * Results are in input order; a stale one has `ok: false` and `job` as it is now (null
   * for an unknown job id).
   */
  jobsComplete(p: {
    agentId: string;
    reports: ReadonlyArray<AttemptOutcome & { jobId: string; leaseId: string }>;
    now: number;
  }): Promise<Array<{ jobId: string; ok: boolean; job: JobRecord | null }>>;

  /** Progress for current leases held by `agentId`; returns the lease ids refused as stale. */
  jobsProgress(p: {
    agentId: string;
    reports: ReadonlyArray<Progress & { jobId: string; leaseId: string }>;
  }): Promise<{ stale: string[]; jobs: JobRecord[] }>;

  /** Cancel (core cancelJob). Throws JOB_NOT_FOUND / INVALID_STATE. `immediate` false: the agent must kill it first. */
  jobCancel(p: { id: string; now: number }): Promise<{ job: JobRecord; immediate: boolean }>;

  /** Retry a terminal job as a new attempt (core retryJob). */
  jobRetry(p: { id: string; now: number }): Promise<JobRecord>;

  /** scheduled → queued for up to `limit` jobs whose runAt ≤ now, oldest due first. */
  jobsPromoteDue(p: { now: number; limit: number }): Promise<JobRecord[]>;

  /** scheduled/queued → expired for up to `limit` jobs whose expireAt ≤ now. */
  jobsExpireDue(p: { now: number; limit: number }): Promise<JobRecord[]>;

  /**
   * Server-side timeout backstop: running attempts whose startedAt + timeoutSec + graceMs
   * ≤ now fail with TIMEOUT (retried if attempts remain). Up to `limit`.
   */
  jobsTimeoutDue(p: { now: number; graceMs: number; limit: number }): Promise<JobRecord[]>;

  /**
   * The earliest future time at which promote, expire or timeout has work (for one timer,
   * not one per job). `graceMs` as in jobsTimeoutDue. Null when nothing is pending.
   */
  nextDueAt(p: { graceMs: number }): Promise<number | null>;

  /**
   * A job's attempts, in the order they started: one record per lease that ended (written
   * by the transaction that ended it — completion, reaping, revoke, timeout — adding no
   * commit or round trip per job), then the running one, read from the job row. Throws
   * JOB_NOT_FOUND for an unknown job.
   */
  attemptsList(p: { jobId: string }): Promise<AttemptRecord[]>;

  /** Deletes up to `limit` terminal jobs finished before `before`, with their logs and attempts. Returns how many. */
  jobsPurgeFinished(p: { before: number; limit: number }): Promise<number>;

  /** Running attempts held by an agent (for heartbeats and the agent view). */
  jobsRunningOnAgent(p: { agentId: string }): Promise<JobRecord[]>;

  // ---- logs -------------------------------------------------------------------------

  /**
   * Appends output chunks for current leases held by `agentId`; chunks for stale leases are
   * dropped and their lease ids returned. Keeps at most `capBytes` per job: the oldest
   * chunks are removed first (the tail is kept) and `truncated` is set on the job's log.
   */
  logsAppend(p: {
    agentId: string;
    chunks: ReadonlyArray<{
      jobId: string;
      leaseId: string;
      stream: 'stdout' | 'stderr';
      data: string;
    }>;
    capBytes: number;
    now: number;
  }): Promise<{ stale: string[]; appended: LogChunk[] }>;

  /** Chunks of a job after `afterSeq` (exclusive), in order, up to `limit`. Throws JOB_NOT_FOUND for an unknown job. */
  logsRead(p: {
    jobId: string;
    afterSeq?: number;
    limit?: number;
  }): Promise<{ chunks: LogChunk[]; truncated: boolean }>;

  // ---- agents -----------------------------------------------------------------------

  /**
   * Creates an agent, or updates the one with `id` (re-registration with its own secret).
   * A different live (non-revoked) agent with the same name → AGENT_NAME_TAKEN.
   */
  agentUpsert(p: { agent: AgentRecord }): Promise<AgentRecord>;
  agentGet(p: { id: string }): Promise<AgentRecord | null>;
  agentGetByName(p: { name: string }): Promise<AgentRecord | null>;
  agentsList(p: { includeRevoked?: boolean }): Promise<AgentRecord[]>;
  /** Sets state and/or lastSeenAt. Returns the agent, or null if unknown. */
  agentUpdate(p: {
    id: string;
    state?: AgentRecord['state'];
    lastSeenAt?: number;
  }): Promise<AgentRecord | null>;

  /**
   * Lease reaping: agents (online or draining) not seen since `seenBefore` go offline, and
   * each of their running attempts is lost (core loseAttempt: retried as attempt + 1 after
   * backoff, or failed with AGENT_LOST). Returns what changed.
   */
  agentsReap(p: {
    seenBefore: number;
    now: number;
  }): Promise<{ agents: AgentRecord[]; jobs: JobRecord[] }>;

  /** Revokes an agent and loses its running attempts at once. */
  agentRevoke(p: { id: string; now: number }): Promise<{ agent: AgentRecord; jobs: JobRecord[] }>;

  /** Jobs with cancelRequested among the running attempts of an agent: the leases to kill. */
  leasesToCancel(p: { agentId: string }): Promise<string[]>;

  // ---- requirement classes ----------------------------------------------------------

  /** Classes with id > `afterId` (incremental load into the dispatcher's cache). */
  classesList(p: { afterId: number }): Promise<Array<{ id: number; jobClass: JobClass }>>;
  /** Classes that have at least one queued job now (a cheap hint, may be stale). */
  classesWithQueued(): Promise<Set<number>>;

  // ---- queues and stats -------------------------------------------------------------

  /** Every queue that has jobs or a pause flag, with counts by state. */
  queuesList(): Promise<Array<{ name: string; paused: boolean; counts: Record<JobState, number> }>>;
  queueSetPaused(p: { name: string; paused: boolean }): Promise<void>;
  pausedQueues(): Promise<Set<string>>;
  /** Counts by state over all queues, without scanning jobs. */
  countsByState(): Promise<Record<JobState, number>>;

  // ---- credentials ------------------------------------------------------------------

  credentialCreate(p: { credential: CredentialRecord }): Promise<void>;
  /** Looks up by SHA-256 hex of the secret. Returns revoked/expired ones too; the caller decides. */
  credentialFindByHash(p: { hash: string }): Promise<CredentialRecord | null>;
  credentialGet(p: { id: string }): Promise<CredentialRecord | null>;
  /** api-key and join-token credentials (never the admin or agent ones), newest first. */
  credentialsList(): Promise<CredentialRecord[]>;
  credentialRevoke(p: { id: string; now: number }): Promise<CredentialRecord | null>;
  /** Marks a single-use join token used; false if it already was (so two agents cannot share it). */
  credentialConsume(p: { id: string; now: number }): Promise<boolean>;
  credentialTouch(p: { id: string; now: number }): Promise<void>;
}

export interface StoreCapabilities {
  /** Several servers may share this store (PostgreSQL). */
  multiServer: boolean;
  /** subscribeChanges delivers the other servers' changes (PostgreSQL LISTEN/NOTIFY). */
  changeFeed: boolean;
}

/** What another server's transaction changed (see Store.subscribeChanges). */
export interface StoreChanges {
  /** Classes that gained queued jobs: wake parked agents that accept them. */
  queuedClasses: number[];
  /** Jobs written (state changed, or progress, cancel requests, ...): load and publish. */
  jobs: Array<{ id: string; from: JobState | null; to: JobState }>;
  /** Jobs with new log chunks: followers read after their last seq. */
  logs: string[];
  /** Agents whose state changed (registered, drained, offline, revoked). */
  agents: string[];
  /** Queue pause flags changed: reload pausedQueues(). */
  queues: boolean;
  /** Changes were missed: reload caches, re-check waits. */
  resync: boolean;
}

export interface JobListParams {
  state?: JobState;
  queue?: string;
  agentName?: string;
  tag?: { key: string; value: string };
  q?: string;
  limit: number;
  cursor?: string;
}

/** One claim result: the job as now running, and the payload text as stored (handed to the agent verbatim). */
/** One entry of jobsSubmit's result: the stored job, or the existing one for a repeated idempotency key. */
export interface SubmitResult {
  job: JobRecord;
  created: boolean;
}

/** What jobsClaim is asked: see there. */
export interface ClaimRequest {
  agent: AgentRecord;
  max: number;
  classes: ReadonlyArray<{ classId: number; queuedBefore: number | null }>;
  now: number;
}

export interface ClaimedAttempt {
  job: JobRecord;
  payloadJson: string;
}

/** One attempt of a job: one lease, from its claim to its end (null while it runs). */
export interface AttemptRecord {
  jobId: string;
  /** The job's attempt number when it ran (a hand-back keeps it, so two records may share it). */
  attempt: number;
  agentId: string;
  agentName: string;
  leaseId: string;
  startedAt: number;
  endedAt: number | null;
  outcome: AttemptOutcomeName;
  exitCode: number | null;
  signal: string | null;
  error: JobError | null;
}

export interface LogChunk {
  jobId: string;
  seq: number;
  stream: 'stdout' | 'stderr';
  data: string;
  at: number;
}

export type CredentialKind = 'admin' | 'api-key' | 'join-token' | 'agent';

/** A secret's record; only the SHA-256 of the secret is kept. */
export interface CredentialRecord {
  id: string;
  kind: CredentialKind;
  name: string;
  hash: string;
  scopes: Scope[];
  queues: string[] | null;
  capabilities: string[] | null;
  /** For kind 'agent': the agent it authenticates. */
  agentId: string | null;
  singleUse: boolean;
  usedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  createdAt: number;
}

export type { KeyKind, Priority, AgentResources };
