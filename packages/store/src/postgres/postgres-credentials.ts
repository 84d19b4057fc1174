import {
  CREDENTIAL_COLUMNS,
  credentialParams,
  rowToCredential,
  type CredentialRow,
} from '../shared/credential-rows.js';
import type { CredentialRecord, Store } from '../store.js';
import type { PgContext } from './postgres-context.js';

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
