import type { CredentialRecord } from './store.js';

/** A credential record with every optional limit and timestamp unset: the one place its defaults live. */
export function credentialRecord(
  p: Pick<CredentialRecord, 'id' | 'kind' | 'name' | 'hash' | 'createdAt'> &
    Partial<CredentialRecord>,
): CredentialRecord {
  return {
    scopes: [],
    queues: null,
    capabilities: null,
    agentId: null,
    singleUse: false,
    usedAt: null,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    ...p,
  };
}
