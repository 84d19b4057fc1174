// The floor of offload's design, measured in the same run as offload and the anchors: a bare
// HTTP + SQLite job queue, rebuilt from the description of the prototype in
// ../shared/bench/limits/RESULTS.md with the choices that measured best there. No auth,
// validation, leases, events, metrics or scheduling: what is left is the part every offload
// job also pays (HTTP on loopback, a durable SQLite commit per transition), so its figures
// bound offload's from above on the same host and hour.
//
//   node bench/prototype/server.js DB_FILE   → prints {"type":"ready","port":N} on stdout
//
// POST /jobs/batch {payloads}   insert in one transaction          → {"n":N}
// POST /jobs {payload}          insert (one commit)                → {"id":N}
// POST /jobs/run {payload}      insert; answers once the job is completed (a server-side
//                               wait, no polling)                  → {"id":N}
// POST /claim {max, waitMs, done}  completes `done` (one transaction), answers the waits of
//                               those jobs, then claims up to `max` in one statement; with
//                               nothing queued and waitMs > 0 the request parks until a
//                               submit wakes it                    → {"jobs":[{id,payload}]}
// GET /completed                jobs completed so far              → {"n":N}
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const file = process.argv[2];
if (!file) throw new Error('usage: server.js DB_FILE');

const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('cache_size = -65536');
db.exec(`
  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL DEFAULT 'default',
    state TEXT NOT NULL DEFAULT 'queued',
    priority INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    claimed_at INTEGER,
    finished_at INTEGER
  );
  -- Partial: a completion leaves it alone (limits finding 3, -20 to -40 % of SQLite's cost).
  CREATE INDEX jobs_claim ON jobs (queue, priority, id) WHERE state = 'queued';
`);

const insert = db.prepare('INSERT INTO jobs (payload, created_at) VALUES (?, ?)');
const insertMany = db.transaction((/** @type {string[]} */ payloads, /** @type {number} */ now) => {
  for (const p of payloads) insert.run(p, now);
});
// One set-based statement a claim (limits finding 2): no per-row read-modify-write.
const claim = db.prepare(`
  UPDATE jobs SET state = 'running', attempts = attempts + 1, claimed_at = ?
  WHERE id IN (SELECT id FROM jobs WHERE queue = 'default' AND state = 'queued'
               ORDER BY priority, id LIMIT ?)
  RETURNING id, payload`);
const finish = db.prepare(
  "UPDATE jobs SET state = 'done', finished_at = ? WHERE id = ? AND state = 'running'",
);
const finishMany = db.transaction((/** @type {number[]} */ ids, /** @type {number} */ now) => {
  let n = 0;
  for (const id of ids) n += finish.run(now, id).changes;
  return n;
});

let completed = 0;
/** Submitters of /jobs/run waiting for their job, by id. @type {Map<number, () => void>} */
const waits = new Map();
/** Parked claims, oldest first. @type {Array<{ max: number, answer: (body: string) => void }>} */
let parked = [];

/**
 * The claim's answer built from the stored payload text, with no parse or stringify of it
 * (limits finding 6: the fastest shape at 500 a claim).
 * @param {number} max
 * @returns {string | null}
 */
function claimText(max) {
  const rows = /** @type {Array<{ id: number, payload: string }>} */ (claim.all(Date.now(), max));
  if (rows.length === 0) return null;
  let out = '{"jobs":[';
  for (let i = 0; i < rows.length; i++) {
    const r = /** @type {{ id: number, payload: string }} */ (rows[i]);
    out += `${i ? ',' : ''}{"id":${r.id},"payload":${r.payload}}`;
  }
  return out + ']}';
}

/** Hands queued jobs to parked claims, oldest first, until one finds nothing. */
function wake() {
  while (parked.length > 0) {
    const p = /** @type {(typeof parked)[number]} */ (parked[0]);
    const text = claimText(p.max);
    if (text === null) return;
    parked.shift();
    p.answer(text);
  }
}

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });

app.post('/jobs/batch', async (req) => {
  const { payloads } = /** @type {{ payloads: unknown[] }} */ (req.body);
  insertMany(
    payloads.map((p) => JSON.stringify(p)),
    Date.now(),
  );
  wake();
  return { n: payloads.length };
});

app.post('/jobs', async (req) => {
  const { payload } = /** @type {{ payload: unknown }} */ (req.body);
  const id = Number(insert.run(JSON.stringify(payload), Date.now()).lastInsertRowid);
  wake();
  return { id };
});

app.post('/jobs/run', (req, reply) => {
  const { payload } = /** @type {{ payload: unknown }} */ (req.body);
  const id = Number(insert.run(JSON.stringify(payload), Date.now()).lastInsertRowid);
  waits.set(id, () => void reply.send({ id }));
  wake();
  return reply;
});

app.post('/claim', (req, reply) => {
  const { max, waitMs, done } = /** @type {{ max: number, waitMs: number, done: number[] }} */ (
    req.body
  );
  if (done.length > 0) {
    completed += finishMany(done, Date.now());
    // The submitters' answers go out before the next claim runs (limits finding 7).
    for (const id of done) {
      const w = waits.get(id);
      if (w) {
        waits.delete(id);
        w();
      }
    }
  }
  const text = claimText(max);
  reply.type('application/json');
  if (text !== null || waitMs <= 0) return reply.send(text ?? '{"jobs":[]}');
  const timer = setTimeout(() => {
    parked = parked.filter((p) => p !== entry);
    void reply.send('{"jobs":[]}');
  }, waitMs);
  const entry = {
    max,
    answer: (/** @type {string} */ body) => {
      clearTimeout(timer);
      void reply.send(body);
    },
  };
  parked.push(entry);
  // The agent went away (the bench stopping it): forget its claim.
  reply.raw.on('close', () => {
    clearTimeout(timer);
    parked = parked.filter((p) => p !== entry);
  });
  return reply;
});

app.get('/completed', async () => ({ n: completed }));

const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ type: 'ready', port: Number(new URL(address).port) }) + '\n');
const stop = () =>
  void app.close().then(() => {
    db.close();
    process.exit(0);
  });
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent (the bench's driver) went away, killed or not: so does this server.
process.stdin.on('end', stop).resume();
