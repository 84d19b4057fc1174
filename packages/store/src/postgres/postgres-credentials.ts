import { jsonOrNull, parseOrNull } from '../shared/job-rows.js';
import type { CredentialRecord, Store } from '../store.js';
import type { PgContext } from './postgres-context.js';

interface CredentialRow {
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

function rowToCredential(r: CredentialRow): CredentialRecord {
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

function credentialParams(c: CredentialRecord): unknown[] {
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

const CREDENTIAL_COLUMNS =
  'id, kind, name, hash, scopes, queues, capabilities, agent_id, single_use, used_at, expires_at, revoked_at, last_used_at, created_at';

type CredentialMethods = Pick<
  Store,
  | 'credentialCreate'
  | 'credentialFindByHash'
  | 'credentialGet'
  | 'credentialsList'
  | 'credentialRevoke'
  | 'credentialConsume'
  | 'credentialTouch'
>;

export function createPgCredentials(ctx: PgContext): CredentialMethods {
  const one = async (sql: string, values: unknown[]): Promise<CredentialRecord | null> => {
    const [row] = await ctx.rows<CredentialRow>(ctx.pool, sql, values);
    return row === undefined ? null : rowToCredential(row);
  };
  const get = (id: string) =>
    one(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1`, [id]);

  return {
    async credentialCreate({ credential }) {
      await ctx.rows(
        ctx.pool,
        `INSERT INTO credentials (${CREDENTIAL_COLUMNS}) VALUES (${credentialParams(credential)
          .map((_, i) => `$${i + 1}`)
          .join(', ')})`,
        credentialParams(credential),
      );
    },

    async credentialFindByHash({ hash }) {
      return one(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE hash = $1`, [hash]);
    },

    async credentialGet({ id }) {
      return get(id);
    },

    async credentialsList() {
      const rows = await ctx.rows<CredentialRow>(
        ctx.pool,
        `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE kind IN ('api-key', 'join-token') ORDER BY created_at DESC, seq DESC`,
      );
      return rows.map(rowToCredential);
    },

    async credentialRevoke({ id, now }) {
      // The first revocation time is kept.
      const revoked = await one(
        `UPDATE credentials SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${CREDENTIAL_COLUMNS}`,
        [id, now],
      );
      return revoked ?? get(id);
    },

    async credentialConsume({ id, now }) {
      // One statement is the check and the write: two registrations cannot both see it unused.
      const res = await ctx.pool.query(
        ctx.config('UPDATE credentials SET used_at = $2 WHERE id = $1 AND used_at IS NULL', [
          id,
          now,
        ]),
      );
      return res.rowCount === 1;
    },

    async credentialTouch({ id, now }) {
      await ctx.rows(ctx.pool, 'UPDATE credentials SET last_used_at = $2 WHERE id = $1', [id, now]);
    },
  };
}
