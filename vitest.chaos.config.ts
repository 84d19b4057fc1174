import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:chaos`: real processes killed, cut off and restarted (tests/chaos). One case at
// a time: they crash servers and agents, and must not share the machine with each other.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['tests/chaos/**/*.chaos.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
  },
});
