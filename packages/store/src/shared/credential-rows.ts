import type { CredentialRecord } from '../store.js';
import { jsonOrNull, parseOrNull } from './job-rows.js';

/** A credentials row as both backends store it. */
export interface CredentialRow {
  id: string;
  kind: CredentialRecord['kind'];
  name: string;
  hash: string;
  scopes: string;
  queues: string | null;
  capabilities: string | null;
  agent_id: string | null;
  single_use: number;
  used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  created_at: number;
}

export function rowToCredential(r: CredentialRow): CredentialRecord {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    hash: r.hash,
    scopes: JSON.parse(r.scopes) as CredentialRecord['scopes'],
    queues: parseOrNull(r.queues),
    capabilities: parseOrNull(r.capabilities),
    agentId: r.agent_id,
    singleUse: r.single_use !== 0,
    usedAt: r.used_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    createdAt: r.created_at,
  };
}

export function credentialParams(c: CredentialRecord): unknown[] {
  return [
    c.id,
    c.kind,
    c.name,
    c.hash,
    JSON.stringify(c.scopes),
    jsonOrNull(c.queues),
    jsonOrNull(c.capabilities),
    c.agentId,
    c.singleUse ? 1 : 0,
    c.usedAt,
    c.expiresAt,
    c.revokedAt,
    c.lastUsedAt,
    c.createdAt,
  ];
}

export const CREDENTIAL_COLUMNS =
  'id, kind, name, hash, scopes, queues, capabilities, agent_id, single_use, used_at, expires_at, revoked_at, last_used_at, created_at';
