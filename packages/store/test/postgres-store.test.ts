import {
  describeWithPostgres,
  openTestPostgresStore,
  postgresTestEnv,
  runStoreConformance,
} from '@offload/store/testing';

const env = await postgresTestEnv();

// The same suite as SQLite, unchanged; each test gets a schema of its own, dropped after.
describeWithPostgres(env, 'postgres store', () => {
  runStoreConformance('postgres', () => openTestPostgresStore(env));
});
