import { hash, randomBytes } from 'node:crypto';
import type { CredentialKind } from '@offload/store';

/**
 * Secrets are long random strings, so a plain SHA-256 is a safe way to store them (no
 * salt or slow hash needed: there is nothing to brute-force). The prefix says what a
 * token is, which helps secret scanners and people reading a config file.
 */
const PREFIX: Record<CredentialKind, string> = {
  admin: 'offa_',
  'api-key': 'offk_',
  'join-token': 'offj_',
  agent: 'offs_',
};

export function newSecret(kind: CredentialKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

/** Every request hashes its token: the one-shot hash() costs ~0.3 µs, a Hash object ~0.85 µs. */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Short random ids for keys, agents and leases. */
export function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}
