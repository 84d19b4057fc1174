import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '@offload/store';
import { runStoreConformance } from '@offload/store/testing';

runStoreConformance('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-store-'));
  const store = await openSqliteStore({ path: path.join(dir, 'offload.db') });
  return {
    store,
    async cleanup() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
