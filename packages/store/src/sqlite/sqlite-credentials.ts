import {
  CREDENTIAL_COLUMNS,
  credentialParams,
  rowToCredential,
  type CredentialRow,
} from '../shared/credential-rows.js';
import type { CredentialRecord, Store } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

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

export function createSqliteCredentials(ctx: SqliteContext): CredentialMethods {
  const one = (sql: string, arg: string): CredentialRecord | null => {
    const row = ctx.stmt(sql).get(arg) as CredentialRow | undefined;
    return row === undefined ? null : rowToCredential(row);
  };
  const get = (id: string) => one(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?`, id);

  return {
    async credentialCreate({ credential }) {
      ctx
        .stmt(
          `INSERT INTO credentials (${CREDENTIAL_COLUMNS}) VALUES (${new Array(14).fill('?').join(', ')})`,
        )
        .run(...credentialParams(credential));
    },

    async credentialFindByHash({ hash }) {
      return one(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE hash = ?`, hash);
    },

    async credentialGet({ id }) {
      return get(id);
    },

    async credentialsList() {
      const rows = ctx
        .stmt(
          `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE kind IN ('api-key', 'join-token') ORDER BY created_at DESC, rowid DESC`,
        )
        .all() as CredentialRow[];
      return rows.map(rowToCredential);
    },

    async credentialRevoke({ id, now }) {
      // The first revocation time is kept.
      ctx
        .stmt('UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(now, id);
      return get(id);
    },

    async credentialConsume({ id, now }) {
      // One statement is the check and the write: two registrations cannot both see it unused.
      return (
        ctx.stmt('UPDATE credentials SET used_at = ? WHERE id = ? AND used_at IS NULL').run(now, id)
          .changes === 1
      );
    },

    async credentialTouch({ id, now }) {
      ctx.stmt('UPDATE credentials SET last_used_at = ? WHERE id = ?').run(now, id);
    },
  };
}
