import type { AgentRecord } from '@offload/core';

/** An agents row as both backends store it (JSON text for the lists and resources). */
export interface AgentRow {
  id: string;
  name: string;
  state: AgentRecord['state'];
  capabilities: string;
  tier: number;
  pools: string;
  max_jobs: number;
  resources: string;
  hostname: string | null;
  os: string | null;
  arch: string | null;
  version: string | null;
  last_seen_at: number;
  created_at: number;
}

export function rowToAgent(r: AgentRow): AgentRecord {
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    capabilities: JSON.parse(r.capabilities) as string[],
    tier: r.tier,
    pools: JSON.parse(r.pools) as string[],
    maxJobs: r.max_jobs,
    resources: JSON.parse(r.resources) as AgentRecord['resources'],
    hostname: r.hostname,
    os: r.os,
    arch: r.arch,
    version: r.version,
    lastSeenAt: r.last_seen_at,
    createdAt: r.created_at,
  };
}

export function agentParams(a: AgentRecord): unknown[] {
  return [
    a.id,
    a.name,
    a.state,
    JSON.stringify(a.capabilities),
    a.tier,
    JSON.stringify(a.pools),
    a.maxJobs,
    JSON.stringify(a.resources),
    a.hostname,
    a.os,
    a.arch,
    a.version,
    a.lastSeenAt,
    a.createdAt,
  ];
}

export const AGENT_COLUMNS =
  'id, name, state, capabilities, tier, pools, max_jobs, resources, hostname, os, arch, version, last_seen_at, created_at';
