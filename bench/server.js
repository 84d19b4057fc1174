// The offload server as the benchmark runs it: the built packages (dist/), a SQLite file in
// a fresh data dir or, with --store, a PostgreSQL schema (as `offload start --store`: the
// URL's `schema` parameter names it), an admin credential, an ephemeral port on loopback.
// Prints `{"type":"ready","url","adminToken","pid"}` on stdout; SIGTERM (or stdin closing)
// closes it cleanly, so that `node --cpu-prof bench/server.js` writes its profile.
//
//   node bench/server.js --data-dir DIR [--store postgres://...?schema=NAME] [--admin-id ID]
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, send } from './lib/child-io.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs();
const dataDir = args['data-dir'];
if (!dataDir) {
  process.stderr.write('usage: node bench/server.js --data-dir DIR\n');
  process.exit(2);
}

// Imported by path, not by package name: the bench runs what `tsc -b tsconfig.build.json` built.
/** @type {typeof import('@offload/store')} */
const { openPostgresStore, openSqliteStore } = await import(
  path.join(root, 'packages/store/dist/index.js')
);
/** @type {typeof import('@offload/server')} */
const { buildApp, createAdminToken, resolveServerConfig } = await import(
  path.join(root, 'packages/server/dist/index.js')
);

/** The store of --store: PostgreSQL when given (its own pool of 10, as the server's default). */
async function openStore() {
  if (!args.store) return openSqliteStore({ path: path.join(dataDir ?? '', 'offload.db') });
  const url = new URL(args.store);
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  return openPostgresStore({
    url: url.toString(),
    ...(schema ? { schema } : {}),
    applicationName: 'offload-bench-server',
  });
}

const store = await openStore();
const config = resolveServerConfig({ dataDir, logLevel: 'silent' }, {});
const app = await buildApp({ store, config });

// Several servers on one PostgreSQL schema each add their own admin credential.
const adminToken = await createAdminToken(store, Date.now(), args['admin-id'] ?? 'admin_bench');

const url = await app.listen({ port: 0, host: '127.0.0.1' });

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  setTimeout(() => process.exit(1), 10_000).unref();
  try {
    await app.close();
    await store.close();
  } finally {
    process.exit(0);
  }
}
for (const sig of /** @type {const} */ (['SIGTERM', 'SIGINT']))
  process.on(sig, () => void shutdown());
process.stdin.on('end', () => void shutdown());

// `--alloc-prof` (bench/run.js): the runner asks for a sampling heap profile of each measured
// window over stdin, `alloc-start` then `alloc-stop FILE`, each answered on stdout. The objects
// garbage collection takes are kept in the profile: it shows the allocation rate, what the
// scavenges cost, rather than what stays in the heap.
/** @type {Session | null} */
let inspector = null;
createInterface({ input: process.stdin }).on('line', (line) => {
  // The file is the rest of the line: a path may hold spaces.
  const cmd = line.split(' ', 1)[0] ?? '';
  const file = line.slice(cmd.length + 1);
  void (async () => {
    if (cmd === 'alloc-start') {
      if (!inspector) {
        inspector = new Session();
        inspector.connect();
      }
      await inspector.post('HeapProfiler.startSampling', {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      send({ type: 'alloc-started' });
    } else if (cmd === 'alloc-stop' && file && inspector) {
      const { profile } = await inspector.post('HeapProfiler.stopSampling');
      writeFileSync(file, JSON.stringify(profile));
      send({ type: 'alloc-written', file });
    }
  })().catch((/** @type {Error} */ err) => send({ type: 'error', message: err.message }));
});

send({ type: 'ready', url, adminToken, pid: process.pid });
