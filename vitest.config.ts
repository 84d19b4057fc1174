import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string, entry = 'index.ts') =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${entry}`, import.meta.url));

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
    include: ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
