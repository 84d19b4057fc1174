import {
  claimJob,
  fitJob,
  freeResources,
  reserve,
  type AgentRecord,
  type Reservation,
} from '@offload/core';
import { PRIORITIES } from '@offload/protocol';
import { randomUUID } from 'node:crypto';
import type { ClaimedAttempt, Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

/** What a running attempt holds: cpu/memory come from its class, GPUs from the row. */
export const RESERVATIONS_SQL =
  "SELECT class_id, gpus FROM jobs INDEXED BY jobs_running_agent WHERE agent_id = ? AND state = 'running'";

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

interface Candidate {
  seq: number;
  priority: number;
  queued_at: number;
  classId: number;
}

export function createSqliteClaim(ctx: SqliteContext): Pick<Store, 'jobsClaim'> {
  const reservationsOf = (agent: AgentRecord): Reservation[] =>
    (ctx.stmt(RESERVATIONS_SQL).all(agent.id) as Array<{ class_id: number; gpus: string }>).map(
      (r) => {
        const req = ctx.classes.get(r.class_id).requires;
        return { cpu: req.cpu, memoryMb: req.memoryMb, gpus: JSON.parse(r.gpus) as number[] };
      },
    );

  return {
    async jobsClaim({ agent, max, classes, now }) {
      if (max <= 0 || classes.length === 0) return [];
      return ctx.tx((w) => {
        // Free resources from the running attempts, inside the transaction: two claims for
        // one agent see each other's reservations and cannot over-commit it.
        const free = freeResources(agent, reservationsOf(agent));
        const want = Math.min(max, free.slots);
        if (want <= 0) return [];

        const candidates: Candidate[] = [];
        const seen = new Set<number>();
        for (const { classId, queuedBefore } of classes) {
          if (seen.has(classId)) continue;
          seen.add(classId);
          if ((ctx.queuedByClass.get(classId) ?? 0) <= 0) continue; // empty: no query at all
          const requires = ctx.classes.get(classId).requires;
          if (fitJob(agent, free, requires) === null) continue; // not even one would fit
          if (queuedBefore === null) {
            for (const r of ctx.stmt(CLAIM_HEAD_SQL).all(classId, want) as Candidate[])
              candidates.push({ ...r, classId });
            continue;
          }
          let got = 0;
          for (let p = 0; p < PRIORITIES.length && got < want; p++) {
            const rows = ctx
              .stmt(CLAIM_HEAD_BEFORE_SQL)
              .all(classId, p, queuedBefore, want - got) as Candidate[];
            for (const r of rows) candidates.push({ ...r, classId });
            got += rows.length;
          }
        }
        if (candidates.length === 0) return [];
        candidates.sort(
          (a, b) => a.priority - b.priority || a.queued_at - b.queued_at || a.seq - b.seq,
        );

        // Greedy in claim order while jobs fit. Jobs of one class need the same, and free
        // only shrinks, so once a class does not fit the rest of it is skipped.
        const out: ClaimedAttempt[] = [];
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
          const stored = ctx.loadBySeq(c.seq);
          if (stored === null || stored.job.state !== 'queued') continue;
          reserve(free, requires, fit.gpus);
          const job = w.transition(
            stored,
            claimJob(stored.job, {
              leaseId: randomUUID(),
              agentId: agent.id,
              agentName: agent.name,
              gpus: fit.gpus,
              now,
            }),
          );
          out.push({ job, payloadJson: stored.payloadJson });
        }
        return out;
      });
    },
  };
}
