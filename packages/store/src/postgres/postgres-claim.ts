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
import { mayClaim } from '../shared/claim-rules.js';
import type { ClaimedAttempt, ClaimRequest, Store } from '../store.js';
import type { PgContext, PgTx } from './postgres-context.js';
import { submitWithin } from './postgres-jobs.js';
import { ADVISORY_NAMESPACE } from './postgres-migrations.js';

/**
 * Serialises the claims of one agent (a transaction-scoped advisory lock keyed by its id):
 * the second of two concurrent claims reads the running attempts only after the first has
 * committed, so together they cannot over-commit the agent. A lock on the agents row would
 * do the same but requires the row; this needs nothing and never blocks other agents.
 * The same statement reads the agent's stored state (see jobsClaim: a drain committed
 * before the claim began wins over the caller's record).
 */
export const AGENT_CLAIM_LOCK_SQL =
  'SELECT pg_advisory_xact_lock($1::int, hashtext($2))::text AS locked, (SELECT state FROM agents WHERE id = $2) AS state';

/** What the running attempts hold: cpu/memory from their class, GPUs from the row. */
export const RESERVATIONS_SQL =
  "SELECT class_id, gpus FROM jobs WHERE agent_id = $1 AND state = 'running'";

/**
 * The head of each range: for each (class, priority range, cutoff, limit) row of the
 * unnest, a short range of the partial index jobs_claim(class_id, priority, queued_at, seq)
 * WHERE state = 'queued', in index order — which is claim order. Finished and running
 * jobs are not in the index, so the cost is the rows returned, whatever the queue depth
 * or the number of finished jobs kept.
 *
 * A class with no cutoff is one range with priorities 0..3. A class with a tier cutoff
 * (`queuedBefore`) is one range per priority with `queued_at <= cutoff` as a range bound,
 * so the jobs queued after the cutoff are never walked (with priorities as a range,
 * queued_at would only be a filter).
 */
const HEAD_RANGES =
  'unnest($1::bigint[], $2::int[], $3::int[], $4::bigint[], $5::int[]) AS c(class_id, pmin, pmax, cutoff, lim)';
const HEAD_WHERE =
  "state = 'queued' AND class_id = c.class_id AND priority >= c.pmin AND priority <= c.pmax AND queued_at <= c.cutoff";

/**
 * One range, read and locked in one statement, FOR UPDATE SKIP LOCKED: rows other claims
 * hold are passed over, not waited for, so many agents claim in parallel and never take
 * the same job. With one range every row locked is taken (its limit is what fits), so
 * nothing is locked in vain.
 */
export const CLAIM_ONE_RANGE_SQL =
  `SELECT x.* FROM ${HEAD_RANGES} CROSS JOIN LATERAL (SELECT ${JOB_COLUMNS} FROM jobs ` +
  `WHERE ${HEAD_WHERE} ORDER BY priority, queued_at, seq LIMIT c.lim FOR UPDATE SKIP LOCKED) AS x`;

/**
 * Several ranges (several classes, or a tier cutoff): first the heads, unlocked and narrow
 * (an index-only read), minus the rows already tried ($6). Locking each range's head
 * directly would lock up to `want` rows per range to take `want` in all: rows another
 * agent could have taken, hidden from it until this commit (two claimers over two
 * classes: the first locked all 40 jobs to take 25, the second got none).
 */
export const CLAIM_PEEK_SQL =
  `SELECT x.seq, x.class_id, x.priority, x.queued_at FROM ${HEAD_RANGES} CROSS JOIN LATERAL ` +
  `(SELECT seq, class_id, priority, queued_at FROM jobs WHERE ${HEAD_WHERE} AND seq <> ALL($6::bigint[]) ` +
  'ORDER BY priority, queued_at, seq LIMIT c.lim) AS x';

/** ...then exactly the chosen rows, locked if still queued and not held by another claim. */
export const CLAIM_LOCK_CHOSEN_SQL = `SELECT ${JOB_COLUMNS} FROM jobs WHERE seq = ANY($1::bigint[]) AND state = 'queued' ORDER BY seq FOR UPDATE SKIP LOCKED`;

/** The cutoff of a class without one: later than any queued_at. */
const NO_CUTOFF = Number.MAX_SAFE_INTEGER;

/**
 * Peek-and-lock rounds when other claims took some of the chosen rows. Each round excludes
 * what it tried, so it moves on to rows the others did not choose; a claim that loses every
 * row of several rounds in a row is in a crowd, and returns what it has (its agent asks
 * again).
 */
const MAX_ROUNDS = 4;

interface Head {
  seq: number;
  class_id: number;
  priority: number;
  queued_at: number;
}

type Ranges = [number[], number[], number[], number[], number[]];

/**
 * How many jobs of these requirements would fit in `free`, up to `cap`: the most of the
 * class worth reading or locking.
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

const byClaimOrder = (
  a: { priority: number; queuedAt: number; seq: number },
  b: { priority: number; queuedAt: number; seq: number },
): number => a.priority - b.priority || a.queuedAt - b.queuedAt || a.seq - b.seq;

export function createPgClaim(ctx: PgContext): Pick<Store, 'jobsClaim' | 'jobsSubmitAndClaim'> {
  /** The ranges worth reading for `need` more jobs with `free` left, or null if none. */
  const rangesFor = (
    agent: AgentRecord,
    classes: ReadonlyArray<{ classId: number; queuedBefore: number | null }>,
    free: FreeResources,
    need: number,
  ): Ranges | null => {
    const ranges: Ranges = [[], [], [], [], []];
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
      const lim = howManyFit(agent, free, ctx.classes.get(classId).requires, need);
      if (lim === 0) continue; // not even one would fit
      if (queuedBefore === null) add(classId, 0, PRIORITIES.length - 1, NO_CUTOFF, lim);
      else for (let p = 0; p < PRIORITIES.length; p++) add(classId, p, p, queuedBefore, lim);
    }
    return ranges[0].length === 0 ? null : ranges;
  };

  return {
    /**
     * One transaction: the agent's lock, its reservations, the claim (one statement for
     * one range; a peek and a lock for several, repeated only when other claims took
     * chosen rows), and the batched UPDATE of the jobs taken plus the counts.
     */
    async jobsClaim({ agent, max, classes, now }) {
      if (max <= 0 || classes.length === 0) return [];
      await ctx.classes.ensure(
        ctx.pool,
        classes.map((c) => c.classId),
      );
      return ctx.tx((t) => claimWithin(t, { agent, max, classes, now }));
    },

    async jobsSubmitAndClaim({ jobs, claim }) {
      await ctx.classes.ensure(
        ctx.pool,
        claim.classes.map((c) => c.classId),
      );
      return ctx.tx(async (t) => {
        const submitted = jobs.length === 0 ? [] : await submitWithin(ctx, t, jobs);
        const claimed =
          claim.max <= 0 || claim.classes.length === 0 ? [] : await claimWithin(t, claim);
        return { submitted, claimed };
      });
    },
  };

  /** jobsClaim's work, inside the caller's transaction (a claim alone, or after a submit). */
  async function claimWithin(
    t: PgTx,
    { agent, max, classes, now }: ClaimRequest,
  ): Promise<ClaimedAttempt[]> {
    const [lock] = await t.rows<{ state: string | null }>(AGENT_CLAIM_LOCK_SQL, [
      ADVISORY_NAMESPACE,
      agent.id,
    ]);
    if (!mayClaim(lock?.state ?? null)) return [];
    const running = await t.rows<{ class_id: number; gpus: string }>(RESERVATIONS_SQL, [agent.id]);
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
    const out: ClaimedAttempt[] = [];
    const take = (rows: StoredJob[]): void => takeGreedy(t, agent, free, want, rows, out, now);

    const first = rangesFor(agent, classes, free, want);
    if (first === null) return [];
    if (first[0].length === 1) {
      take(await t.jobs(CLAIM_ONE_RANGE_SQL, first));
      return out;
    }

    const tried: number[] = [];
    // Rows passed over: chosen but lost to other claims, and — when the rounds ran out
    // with room left — the heads last seen queued and not chosen. Their classes go in
    // this commit's notification, as if they had gained jobs: the other claims may give
    // up too (claimers that peek the same heads lose in lockstep: at worst, of twenty
    // wanting one job each, four rounds serve four) or roll back, and then nothing else
    // would wake the agents parked on other servers while the jobs stay queued. When
    // the rows were in fact taken, the cost is a classesWithQueued per agent parked
    // there for those classes.
    const passed: Head[] = [];
    let heads: Head[] = [];
    let crowded = false; // the last round lost rows: the rounds, not the work, ran out
    for (let round = 0; round < MAX_ROUNDS && out.length < want; round++) {
      crowded = false;
      const ranges = round === 0 ? first : rangesFor(agent, classes, free, want - out.length);
      if (ranges === null) break;
      heads = await t.rows<Head>(CLAIM_PEEK_SQL, [...ranges, tried]);
      const chosen = choose(agent, free, want - out.length, heads);
      if (chosen.length === 0) break;
      const locked = await t.jobs(CLAIM_LOCK_CHOSEN_SQL, [chosen]);
      take(locked);
      if (locked.length === chosen.length) break; // all it could take
      crowded = true;
      const got = new Set(locked.map((s) => s.seq));
      const lost = new Set(chosen.filter((seq) => !got.has(seq)));
      passed.push(...heads.filter((h) => lost.has(h.seq)));
      tried.push(...chosen);
    }
    if (crowded && out.length < want) {
      const seen = new Set(tried); // the last round's chosen are in it, lost or taken
      passed.push(...heads.filter((h) => !seen.has(h.seq)));
    }
    for (const h of passed) t.changes.stillQueued(h.class_id);
    return out;
  }

  /**
   * The heads this agent would take, in claim order, while they fit: what to lock. Works
   * on a copy of `free`; the real reservation happens in takeGreedy on the locked rows.
   */
  function choose(agent: AgentRecord, free: FreeResources, need: number, heads: Head[]): number[] {
    const f: FreeResources = { ...free, gpus: [...free.gpus] };
    const chosen: number[] = [];
    const full = new Set<number>();
    heads.sort((a, b) =>
      byClaimOrder(
        { priority: a.priority, queuedAt: a.queued_at, seq: a.seq },
        { priority: b.priority, queuedAt: b.queued_at, seq: b.seq },
      ),
    );
    for (const h of heads) {
      if (chosen.length >= need) break;
      if (full.has(h.class_id)) continue;
      const requires = ctx.classes.get(h.class_id).requires;
      const fit = fitJob(agent, f, requires);
      if (fit === null) {
        full.add(h.class_id);
        continue;
      }
      reserve(f, requires, fit.gpus);
      chosen.push(h.seq);
    }
    return chosen;
  }
}

/**
 * Takes locked rows in claim order while they fit, as in SQLite: jobs of one class need
 * the same, and free only shrinks, so once a class does not fit the rest of it is skipped.
 * Each job taken gets a fresh lease and its GPUs, and `free` shrinks by what it holds.
 */
function takeGreedy(
  t: PgTx,
  agent: AgentRecord,
  free: FreeResources,
  want: number,
  rows: StoredJob[],
  out: ClaimedAttempt[],
  now: number,
): void {
  const key = (s: StoredJob) => ({
    priority: priorityRank(s.job.priority),
    queuedAt: s.job.queuedAt ?? 0,
    seq: s.seq,
  });
  rows.sort((a, b) => byClaimOrder(key(a), key(b)));
  const full = new Set<number>();
  for (const c of rows) {
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
}
