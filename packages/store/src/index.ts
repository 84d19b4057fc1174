export * from './store.js';
export { credentialRecord } from './credential-record.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
export { openPostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
