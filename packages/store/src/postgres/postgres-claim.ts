import {
  claimJob,
  fitJob,
  freeResources,
  priorityRank,
  reserve,
  type AgentRecord,
  type FreeResources,
  type Requirements,
  type Reservation,
} from '@offload/core';
import { PRIORITIES } from '@offload/protocol';
import { randomUUID } from 'node:crypto';
import { JOB_COLUMNS, type StoredJob } from '../shared/job-rows.js';
import type { ClaimedAttempt, Store } from '../store.js';
import type { PgContext } from './postgres-context.js';
import { ADVISORY_NAMESPACE } from './postgres-migrations.js';

/**
 * Serialises the claims of one agent (a transaction-scoped advisory lock keyed by its id):
 * the second of two concurrent claims reads the running attempts only after the first has
 * committed, so together they cannot over-commit the agent. A lock on the agents row would
 * do the same but requires the row; this needs nothing and never blocks other agents.
 */
export const AGENT_CLAIM_LOCK_SQL = 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))';

/** What the running attempts hold: cpu/memory from their class, GPUs from the row. */
export const RESERVATIONS_SQL =
  "SELECT class_id, gpus FROM jobs WHERE agent_id = $1 AND state = 'running'";

/**
 * The heads of the classes, locked, in one statement: for each (class, priority range,
 * cutoff, limit) row of the unnest, a short range of the partial index
 * jobs_claim(class_id, priority, queued_at, seq) WHERE state = 'queued', read in index
 * order and locked FOR UPDATE SKIP LOCKED — rows another claim holds are passed over, not
 * waited for, so claims by many agents proceed in parallel and never take the same job.
 * Finished and running jobs are not in the index, so the cost is the rows returned.
 *
 * A class with no cutoff is one row with priorities 0..3 (one range, index order is
 * claim order). A class with a tier cutoff (`queuedBefore`) is one row per priority with
 * `queued_at <= cutoff` as a range bound, so the jobs queued after the cutoff are never
 * walked (with priorities as a range, queued_at would only be a filter).
 */
export const CLAIM_HEADS_SQL =
  `SELECT x.* FROM unnest($1::bigint[], $2::int[], $3::int[], $4::bigint[], $5::int[]) AS c(class_id, pmin, pmax, cutoff, lim) ` +
  `CROSS JOIN LATERAL (SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'queued' AND class_id = c.class_id ` +
  'AND priority >= c.pmin AND priority <= c.pmax AND queued_at <= c.cutoff ' +
  'ORDER BY priority, queued_at, seq LIMIT c.lim FOR UPDATE SKIP LOCKED) AS x';

/** The cutoff of a class without one: later than any queued_at. */
const NO_CUTOFF = Number.MAX_SAFE_INTEGER;

/**
 * How many jobs of these requirements would fit in `free`, up to `cap`: the most of the
 * class worth locking. Locking only what can be taken keeps rows free for other agents.
 */
function howManyFit(
  agent: AgentRecord,
  free: FreeResources,
  requires: Requirements,
  cap: number,
): number {
  const f: FreeResources = { ...free, gpus: [...free.gpus] };
  let n = 0;
  while (n < cap) {
    const fit = fitJob(agent, f, requires);
    if (fit === null) break;
    reserve(f, requires, fit.gpus);
    n++;
  }
  return n;
}

export function createPgClaim(ctx: PgContext): Pick<Store, 'jobsClaim'> {
  return {
    /**
     * One transaction, four statements: the agent's lock, its reservations, the locked
     * heads of every class it may take, and the batched UPDATE of the jobs it took (plus
     * the counts). Rows locked but not taken — when several classes compete for the same
     * free resources — are released at COMMIT, a moment later.
     */
    async jobsClaim({ agent, max, classes, now }) {
      if (max <= 0 || classes.length === 0) return [];
      const classIds = [...new Set(classes.map((c) => c.classId))];
      await ctx.classes.ensure(ctx.pool, classIds);
      return ctx.tx(async (t) => {
        await t.rows(AGENT_CLAIM_LOCK_SQL, [ADVISORY_NAMESPACE, agent.id]);
        const running = await t.rows<{ class_id: number; gpus: string }>(RESERVATIONS_SQL, [
          agent.id,
        ]);
        await ctx.classes.ensure(
          t.client,
          running.map((r) => r.class_id),
        );
        const reservations: Reservation[] = running.map((r) => {
          const req = ctx.classes.get(r.class_id).requires;
          return { cpu: req.cpu, memoryMb: req.memoryMb, gpus: JSON.parse(r.gpus) as number[] };
        });
        const free = freeResources(agent, reservations);
        const want = Math.min(max, free.slots);
        if (want <= 0) return [];

        const ranges: [number[], number[], number[], number[], number[]] = [[], [], [], [], []];
        const add = (classId: number, pmin: number, pmax: number, cutoff: number, lim: number) => {
          ranges[0].push(classId);
          ranges[1].push(pmin);
          ranges[2].push(pmax);
          ranges[3].push(cutoff);
          ranges[4].push(lim);
        };
        const seen = new Set<number>();
        for (const { classId, queuedBefore } of classes) {
          if (seen.has(classId)) continue;
          seen.add(classId);
          const lim = howManyFit(agent, free, ctx.classes.get(classId).requires, want);
          if (lim === 0) continue; // not even one would fit
          if (queuedBefore === null) add(classId, 0, PRIORITIES.length - 1, NO_CUTOFF, lim);
          else for (let p = 0; p < PRIORITIES.length; p++) add(classId, p, p, queuedBefore, lim);
        }
        if (ranges[0].length === 0) return [];

        const candidates: StoredJob[] = await t.jobs(CLAIM_HEADS_SQL, ranges);
        candidates.sort(
          (a, b) =>
            priorityRank(a.job.priority) - priorityRank(b.job.priority) ||
            (a.job.queuedAt ?? 0) - (b.job.queuedAt ?? 0) ||
            a.seq - b.seq,
        );

        // Greedy in claim order while jobs fit, as in SQLite: jobs of one class need the
        // same, and free only shrinks, so once a class does not fit the rest of it is skipped.
        const out: ClaimedAttempt[] = [];
        const full = new Set<number>();
        for (const c of candidates) {
          if (out.length >= want) break;
          if (full.has(c.classId)) continue;
          const requires = c.job.requires;
          const fit = fitJob(agent, free, requires);
          if (fit === null) {
            full.add(c.classId);
            continue;
          }
          reserve(free, requires, fit.gpus);
          const job = t.transition(
            c,
            claimJob(c.job, {
              leaseId: randomUUID(),
              agentId: agent.id,
              agentName: agent.name,
              gpus: fit.gpus,
              now,
            }),
          );
          out.push({ job, payloadJson: c.payloadJson });
        }
        return out;
      });
    },
  };
}
