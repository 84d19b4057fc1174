export * from './store.js';
export { credentialRecord } from './credential-record.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export {
  DEFAULT_POSTGRES_SCHEMA,
  openPostgresStore,
  type PostgresStoreOptions,
} from './postgres/postgres-store.js';
