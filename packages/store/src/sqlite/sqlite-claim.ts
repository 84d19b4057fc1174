import {
  applyPatch,
  claimJob,
  fitJob,
  priorityRank,
  reserve,
  type AgentRecord,
  type FreeResources,
  type JobRecord,
} from '@offload/core';
import { PRIORITIES } from '@offload/protocol';
import { randomUUID } from 'node:crypto';
import type { ClaimedAttempt, ClaimRequest, Store } from '../store.js';
import type { SqliteContext, TxWriter } from './sqlite-context.js';
import type { StoredJob } from './sqlite-rows.js';
import { mayClaim } from '../shared/claim-rules.js';
import { planSubmit } from './sqlite-jobs.js';

/**
 * What the agent's running attempts hold, as a count per class (counted here: a GROUP BY
 * would sort) — cpu and memory come from the class, so a count is all they need, and no GPU list is parsed for a class without
 * GPUs. Measured (store micro-benchmark, 250 running on the agent, claim then complete):
 * at 5 jobs per claim the claim fell from ~34.5 to ~31 µs a job (reading and parsing the
 * 250 rows one by one cost ~17 µs a claim); at 50 per claim it is within the noise. A
 * covering (agent_id, class_id) index saved ~2 µs more at 5 per claim but would put a
 * sort into the reaper's seq-ordered read of the same range; not taken.
 */
export const RESERVATIONS_SQL =
  "SELECT class_id FROM jobs INDEXED BY jobs_running_agent WHERE agent_id = ? AND state = 'running'";

/** The GPUs held by the agent's running jobs of one class: read only for classes that use GPUs. */
export const RESERVED_GPUS_SQL =
  "SELECT gpus FROM jobs INDEXED BY jobs_running_agent WHERE agent_id = ? AND state = 'running' AND class_id = ?";

/**
 * The head of one class, served by the covering partial index
 * jobs_claim(class_id, priority, queued_at, seq) WHERE state = 'queued': a short range
 * read whatever the queue depth (bench: ~25 µs per claim at 1k or 1M queued, ~82 ms for a
 * scan at 1M).
 *
 * Measured for this store (2-vCPU VM, CPU time, one agent claiming then completing):
 * ~29 µs per job for claim + complete at 100 jobs per call, the same with 60k or 500k
 * queued; ~140 µs for one job per call, which is two commits writing every index the
 * lists and sweeps need. Batches are what make it cheap.
 */
export const CLAIM_HEAD_SQL =
  "SELECT seq, priority, queued_at FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND class_id = ? ORDER BY priority, queued_at, seq LIMIT ?";

/**
 * The head of one class and priority among jobs queued at or before a tier cutoff. One
 * query per priority keeps it an index range: a single query with `queued_at <= ?` across
 * priorities would walk every job of the class queued after the cutoff.
 */
export const CLAIM_HEAD_BEFORE_SQL =
  "SELECT seq, priority, queued_at FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND class_id = ? AND priority = ? AND queued_at <= ? " +
  'ORDER BY queued_at, seq LIMIT ?';

/** The agent's stored state: a drain committed before the claim wins over the caller's record. */
export const AGENT_STATE_SQL = 'SELECT state FROM agents WHERE id = ?';

interface Candidate {
  seq: number;
  priority: number;
  queued_at: number;
  classId: number;
  /** A job of this hand-off's own submit, not stored yet (its seq is provisional). */
  fresh?: JobRecord;
}

/**
 * A head row with its class, as a literal rather than a spread of the row per job: claim
 * 18.4–19.0 µs a job with the spread, 17.4–19.1 with the literal (store micro-benchmark,
 * 50 per call): at most ~1 µs, near the noise.
 */
function candidate(r: Omit<Candidate, 'classId'>, classId: number): Candidate {
  return { seq: r.seq, priority: r.priority, queued_at: r.queued_at, classId };
}

export function createSqliteClaim(
  ctx: SqliteContext,
): Pick<Store, 'jobsClaim' | 'jobsSubmitAndClaim'> {
  return {
    async jobsClaim(request) {
      if (request.max <= 0 || request.classes.length === 0) return [];
      // Without fresh jobs every attempt taken is of a stored job.
      return ctx.tx((w) => claimWithin(w, request) as ClaimedAttempt[]);
    },

    async jobsSubmitAndClaim({ jobs, claim }) {
      return ctx.tx((w) => {
        const { results, created } = planSubmit(w, jobs);
        // The new jobs are stored in submission order, those the claim took as claimed: one
        // INSERT, not an INSERT and then an UPDATE that enters and leaves the claim index
        // (one WAL page fewer). Store micro-benchmark, 5,000 lone jobs × 3 rounds, AMD EPYC
        // host: the hand-off 68–69 → 53–54 µs a job.
        const claimed: ClaimedAttempt[] = [];
        const byFresh = new Map<JobRecord, ClaimedAttempt>();
        for (const t of claimWithin(w, claim, created)) {
          if (!('fresh' in t)) {
            claimed.push(t);
            continue;
          }
          const attempt = { job: t.running, payloadJson: '' };
          claimed.push(attempt);
          byFresh.set(t.fresh, attempt);
        }
        for (const job of created) {
          const attempt = byFresh.get(job);
          const stored = w.insertJob(attempt?.job ?? job);
          if (attempt) attempt.payloadJson = stored.payloadJson;
        }
        return { submitted: results, claimed };
      });
    },
  };
}

/**
 * Free resources from the running attempts' totals per class: the same arithmetic as
 * core's freeResources over one reservation per running job, by multiplication.
 */
function freeOf(ctx: SqliteContext, agent: AgentRecord): FreeResources {
  let cpu = agent.resources.cpu;
  let memoryMb = agent.resources.memoryMb;
  let running = 0;
  const perClass = new Map<number, number>();
  for (const c of ctx.stmt(RESERVATIONS_SQL).pluck().all(agent.id) as number[])
    perClass.set(c, (perClass.get(c) ?? 0) + 1);
  const used = new Set<number>();
  for (const [classId, n] of perClass) {
    const req = ctx.classes.get(classId).requires;
    cpu -= req.cpu * n;
    memoryMb -= req.memoryMb * n;
    running += n;
    if (req.gpus === 0) continue;
    for (const g of ctx.stmt(RESERVED_GPUS_SQL).pluck().all(agent.id, classId) as string[])
      for (const i of JSON.parse(g) as number[]) used.add(i);
  }
  return {
    cpu,
    memoryMb,
    gpus: agent.resources.gpus.map((g) => g.index).filter((i) => !used.has(i)),
    slots: agent.maxJobs - running,
  };
}

/** An attempt the claim took: of a stored job (written), or of a fresh one (to be stored so). */
type Taken = ClaimedAttempt | { fresh: JobRecord; running: JobRecord };

/**
 * jobsClaim's work, inside the caller's transaction. `fresh`: the jobs of a hand-off's own
 * submit, not stored yet; they compete with the stored heads by the same rules, and one the
 * claim takes comes back as its running record for the caller to store.
 */
function claimWithin(
  w: TxWriter,
  { agent, max, classes, now }: ClaimRequest,
  fresh: readonly JobRecord[] = [],
): Taken[] {
  const ctx = w.ctx;
  if (max <= 0 || classes.length === 0) return [];
  if (!mayClaim((ctx.stmt(AGENT_STATE_SQL).pluck().get(agent.id) as string | undefined) ?? null))
    return [];
  // Free resources from the running attempts, inside the transaction: two claims for
  // one agent see each other's reservations and cannot over-commit it.
  const free = freeOf(ctx, agent);
  const want = Math.min(max, free.slots);
  if (want <= 0) return [];

  const freshByClass = groupFresh(ctx, fresh);
  const candidates: Candidate[] = [];
  const seen = new Set<number>();
  for (const { classId, queuedBefore } of classes) {
    if (seen.has(classId)) continue;
    seen.add(classId);
    const own = (freshByClass.get(classId) ?? []).filter(
      (c) => queuedBefore === null || c.queued_at <= queuedBefore,
    );
    // No stored job queued: no query at all.
    const anyStored = (ctx.queuedByClass.get(classId) ?? 0) > 0;
    if (!anyStored && own.length === 0) continue;
    const requires = ctx.classes.get(classId).requires;
    if (fitJob(agent, free, requires) === null) continue; // not even one would fit
    candidates.push(...own);
    if (!anyStored) continue;
    if (queuedBefore === null) {
      for (const r of ctx.stmt(CLAIM_HEAD_SQL).all(classId, want) as Candidate[])
        candidates.push(candidate(r, classId));
      continue;
    }
    let got = 0;
    for (let p = 0; p < PRIORITIES.length && got < want; p++) {
      const rows = ctx
        .stmt(CLAIM_HEAD_BEFORE_SQL)
        .all(classId, p, queuedBefore, want - got) as Candidate[];
      for (const r of rows) candidates.push(candidate(r, classId));
      got += rows.length;
    }
  }
  if (candidates.length === 0) return [];
  candidates.sort((a, b) => a.priority - b.priority || a.queued_at - b.queued_at || a.seq - b.seq);

  // Greedy in claim order while jobs fit. Jobs of one class need the same, and free
  // only shrinks, so once a class does not fit the rest of it is skipped.
  const out: Taken[] = [];
  const full = new Set<number>();
  for (const c of candidates) {
    if (out.length >= want) break;
    if (full.has(c.classId)) continue;
    const requires = ctx.classes.get(c.classId).requires;
    const fit = fitJob(agent, free, requires);
    if (fit === null) {
      full.add(c.classId);
      continue;
    }
    let stored: StoredJob | null = null;
    if (c.fresh === undefined) {
      stored = ctx.loadBySeq(c.seq);
      if (stored === null || stored.job.state !== 'queued') continue;
    }
    reserve(free, requires, fit.gpus);
    const lease = {
      leaseId: randomUUID(),
      agentId: agent.id,
      agentName: agent.name,
      gpus: fit.gpus,
      now,
    };
    if (c.fresh !== undefined) {
      out.push({ fresh: c.fresh, running: applyPatch(c.fresh, claimJob(c.fresh, lease)) });
    } else if (stored !== null) {
      const job = w.transition(stored, claimJob(stored.job, lease));
      out.push({ job, payloadJson: stored.payloadJson });
    }
  }
  return out;
}

/**
 * The fresh jobs a claim may take (queued, of a known class), as candidates by class. Their
 * seqs are provisional, above every stored one and in submission order, as they will be.
 */
function groupFresh(ctx: SqliteContext, fresh: readonly JobRecord[]): Map<number, Candidate[]> {
  const byClass = new Map<number, Candidate[]>();
  fresh.forEach((job, i) => {
    if (job.state !== 'queued' || job.queuedAt === null) return;
    const classId = ctx.classes.idOf(job);
    if (classId === undefined) return; // a new class: no claim can name it yet
    let list = byClass.get(classId);
    if (list === undefined) byClass.set(classId, (list = []));
    list.push({
      seq: Number.MAX_SAFE_INTEGER - fresh.length + i,
      priority: priorityRank(job.priority),
      queued_at: job.queuedAt,
      classId,
      fresh: job,
    });
  });
  return byClass;
}
