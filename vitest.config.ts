import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const src = (pkg: string, entry = 'index.ts') =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}`, import.meta.url));

/**
 * OFFLOAD_TEST_STORE=postgres runs the server's tests with each test server on a fresh
 * PostgreSQL schema (packages/server/test/test-server.ts); `npm test` runs them that way after
 * everything else. Without a reachable PostgreSQL that run is left out with one line naming
 * OFFLOAD_TEST_POSTGRES_URL, as the store's own PostgreSQL tests skip; under CI=true it runs
 * anyway, so that every test server fails saying why.
 */
async function postgresUnreachable(): Promise<string | null> {
  if (process.env.OFFLOAD_TEST_STORE !== 'postgres' || process.env.CI === 'true') return null;
  const url = process.env.OFFLOAD_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return `no PostgreSQL at ${url} (${why}); set OFFLOAD_TEST_POSTGRES_URL to one`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The end-to-end files (tests/e2e, tests/bench: real installs, fleets, benchmark harness)
 * start first. They are the longest by far, and a fresh clone has no timings for vitest to
 * order by, so it started them last, by file size, and they ran on alone at the end: 197 s
 * for the first run of the suite on 2 cores against ~170 s with them first.
 */
class EndToEndFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const endToEnd = (f: TestSpecification) => /[/\\]tests[/\\](e2e|bench)[/\\]/.test(f.moduleId);
    return [...sorted.filter(endToEnd), ...sorted.filter((f) => !endToEnd(f))];
  }
}

const skipPostgres = await postgresUnreachable();
if (skipPostgres)
  console.warn(`skipping the tests on OFFLOAD_TEST_STORE=postgres: ${skipPostgres}`);

// Tests run against the TypeScript sources, so `npm test` needs no build step to see a change.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@offload\/store\/testing$/, replacement: src('store', 'testing/index.ts') },
      { find: /^@offload\/client\/browser$/, replacement: src('client', 'browser.ts') },
      ...['protocol', 'core', 'store', 'server', 'client', 'cli', 'agent'].map((p) => ({
        find: new RegExp(`^@offload/${p}$`),
        replacement: src(p),
      })),
    ],
  },
  test: {
    include: skipPostgres ? [] : ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts'],
    // Tests that open their own PostgreSQL schemas (several servers on one) whatever the
    // filter says: the first run has them already.
    exclude:
      process.env.OFFLOAD_TEST_STORE === 'postgres'
        ? [
            '**/node_modules/**',
            'packages/server/test/{cross-server,elected-maintenance,feed-readiness}.test.ts',
          ]
        : ['**/node_modules/**'],
    passWithNoTests: skipPostgres !== null,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most test files wait on real processes, sockets and timers rather than compute, so
    // one file per core leaves the cores idle; vitest's default (cores - 1) ran the suite one
    // file at a time on a 2-core machine. Measured there (949 tests, CI=true): 1 worker
    // 326 s, 3 workers 170 s, 4 workers 174 s (the quick-start test's real `npm install`,
    // ~125 s under load, is then the longest path).
    maxWorkers: Math.max(3, availableParallelism() - 1),
    sequence: { sequencer: EndToEndFirst },
  },
});
