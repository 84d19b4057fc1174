// The design's floor as a system of the run: the bare HTTP + SQLite prototype of
// ../prototype/server.js, with a worker that claims over HTTP and sends its completions on its
// next claim (pipelined), as the prototype of ../shared/bench/limits/ did: 500 a claim for
// throughput (its best there, ~82k jobs/s with 1 agent), 50 a claim with a 30 s long poll
// for latency. Its server is reported in the server's columns.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Pool } from 'undici';
import { startChild } from '../lib/children.js';

/** @typedef {import('./adapter.js').AnchorContext} AnchorContext */

export const id = 'prototype';
export const label = 'prototype (bare HTTP + SQLite)';
export const pkg = 'better-sqlite3';
export const database = 'prototype server';
export const unavailable = async () => null;
export const ownServer = true;

const SERVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../prototype/server.js');
const LONG_POLL_MS = 30_000;
const JSON_HEADERS = { 'content-type': 'application/json' };

/** @param {AnchorContext} ctx */
const perClaim = (ctx) => (ctx.mode === 'latency' ? 50 : 500);

/** @param {AnchorContext} ctx */
export function settings(ctx) {
  return `fastify + better-sqlite3 (WAL, synchronous=NORMAL, partial claim index), no auth, validation, leases or events; ${perClaim(ctx)} a claim, completions on the next claim, ${LONG_POLL_MS / 1000} s long poll; lone job answered by a server-side wait`;
}

/** @type {{ child: import('../lib/children.js').Child, dir: string } | null} */
let server = null;

/** A fresh server on a fresh database file; its address goes to the worker in `ctx.url`. */
export async function setup(/** @type {AnchorContext} */ ctx) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'offload-bench-prototype-'));
  const child = startChild(SERVER, [path.join(dir, 'jobs.db')], { label: 'prototype server' });
  server = { child, dir };
  const { port } = await child.next('ready', 30_000);
  ctx.url = `http://127.0.0.1:${port}`;
}

export async function teardown() {
  if (!server) return;
  await server.child.stop(5_000);
  rmSync(server.dir, { recursive: true, force: true });
  server = null;
}

export async function databasePid() {
  return server?.child.pid ?? null;
}

/** @param {AnchorContext} ctx */
function urlOf(ctx) {
  if (!ctx.url) throw new Error('prototype: setup() has not started its server');
  return ctx.url;
}

/**
 * @param {Pool | Client} http
 * @param {'GET' | 'POST'} method
 * @param {string} route
 * @param {unknown} [body]
 */
async function call(http, method, route, body) {
  const res = await http.request({
    method,
    path: route,
    headers: JSON_HEADERS,
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${route} → ${res.statusCode}: ${text}`);
  return JSON.parse(text);
}

/** @returns {Promise<import('./adapter.js').Producer>} */
export async function producer(/** @type {AnchorContext} */ ctx) {
  // The enqueue case's 50 concurrent submitters each get a connection.
  const http = new Pool(urlOf(ctx), { connections: ctx.mode === 'enqueue' ? 50 : 1 });
  return {
    bulk: async (payloads) => void (await call(http, 'POST', '/jobs/batch', { payloads })),
    add: async (payload) => void (await call(http, 'POST', '/jobs', { payload })),
    // Wrapped: the driver awaits `one` for the handle, and `waitDone` for the completion.
    one: async (payload) => ({ done: call(http, 'POST', '/jobs/run', { payload }) }),
    waitDone: async (handle) =>
      void (await /** @type {{ done: Promise<unknown> }} */ (handle).done),
    completed: async () => (await call(http, 'GET', '/completed')).n,
    close: () => http.close(),
  };
}

/** @returns {Promise<import('./adapter.js').AnchorWorker>} */
export async function worker(
  /** @type {AnchorContext} */ ctx,
  /** @type {(data: any) => void} */ onJob,
) {
  const http = new Client(urlOf(ctx), { headersTimeout: 0, bodyTimeout: 0 });
  let closed = false;
  /** @type {Promise<void> | null} */
  let loop = null;
  const run = async () => {
    /** @type {number[]} */
    let done = [];
    while (!closed) {
      const body = { max: perClaim(ctx), waitMs: LONG_POLL_MS, done };
      const { jobs } = /** @type {{ jobs: Array<{ id: number, payload: unknown }> }} */ (
        await call(http, 'POST', '/claim', body)
      );
      done = [];
      for (const job of jobs) {
        onJob(job.payload);
        done.push(job.id);
      }
    }
  };
  return {
    start: async () => {
      loop = run().catch((err) => {
        if (!closed) throw err;
      });
    },
    close: async () => {
      closed = true;
      // A parked claim: dropping the connection ends it.
      await http.destroy();
      await loop;
    },
  };
}
