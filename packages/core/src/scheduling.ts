import { PRIORITIES, type Priority } from '@offload/protocol';
import { agentAccepts, fitJob, type JobClass } from './matching.js';
import type { AgentRecord, FreeResources } from './records.js';

/** Priorities as stored: lower sorts first, so `ORDER BY priority, queued_at` is the claim order. */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}
export function priorityFromRank(rank: number): Priority {
  const p = PRIORITIES[rank];
  if (p === undefined) throw new RangeError(`no priority of rank ${rank}`);
  return p;
}

export const DEFAULT_TIER_GRACE_MS = 2_000;

/** Another agent as the scheduler sees it when deciding tier grace. */
export interface PeerAgent {
  agent: AgentRecord;
  free: FreeResources;
}

/**
 * Tier grace (SPEC §2): when an online agent of a higher tier that is not full could run
 * this class now, a lower-tier agent leaves the class's jobs alone until they have been
 * queued for `graceMs`. Returns the newest `queuedAt` the claiming agent may take, or
 * null when it may take any. Busy high-tier agents do not hold work back, so low tiers
 * are never starved.
 */
export function tierCutoff(
  claimer: AgentRecord,
  c: JobClass,
  peers: Iterable<PeerAgent>,
  now: number,
  graceMs: number,
): number | null {
  if (graceMs <= 0) return null;
  for (const peer of peers) {
    if (peer.agent.id === claimer.id || peer.agent.tier <= claimer.tier) continue;
    if (agentAccepts(peer.agent, c) && fitJob(peer.agent, peer.free, c.requires) !== null)
      return now - graceMs;
  }
  return null;
}
