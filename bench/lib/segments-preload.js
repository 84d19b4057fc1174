// Loaded with `node --import` into every process of a `--segments` run (the runner puts it
// in NODE_OPTIONS); it does something only in a server, offload's (bench/server.js) or the
// prototype's (bench/prototype/server.js). There it times a lone job's legs on the server's
// clock, from Node's HTTP layer: when a request's headers were parsed ('request' event) and
// when its answer was handed to the socket (`end()`). See segments.js for the legs.
//
// Written to `$OFFLOAD_BENCH_SEGMENTS-<pid>.json` when the process exits.
import { writeFileSync } from 'node:fs';
import http from 'node:http';

const script = process.argv[1] ?? '';
const prototype = script.endsWith('prototype/server.js');
const prefix = process.env.OFFLOAD_BENCH_SEGMENTS;
if (prefix && (prototype || script.endsWith('bench/server.js'))) install(prefix);

/** @param {string} prefix */
function install(prefix) {
  /** @type {{ handOff: number[], agentTurn: number[], answer: number[], clientTurn: number[] }} */
  const legs = { handOff: [], agentTurn: [], answer: [], clientTurn: [] };
  let submitIn = 0;
  let syncIn = 0;
  let handOffOut = 0;
  let answerOut = 0;

  /** @param {http.IncomingMessage} req */
  const kindOf = (req) => {
    if (req.method !== 'POST') return null;
    const url = req.url ?? '';
    if (prototype) return url === '/jobs/run' ? 'submit' : url === '/claim' ? 'sync' : null;
    if (url.startsWith('/api/v1/jobs?') && url.includes('wait=')) return 'submit';
    return url === '/api/v1/agent/sync' ? 'sync' : null;
  };

  /** @type {WeakMap<http.ServerResponse, 'submit' | 'sync'>} */
  const kinds = new WeakMap();
  /** @typedef {(this: http.Server, event: string, ...args: unknown[]) => boolean} Emit */
  const emit = /** @type {Emit} */ (http.Server.prototype.emit);
  /** @type {Emit} */
  const timed = function (event, ...args) {
    if (event === 'request') {
      const [req, res] = /** @type {[http.IncomingMessage, http.ServerResponse]} */ (args);
      const kind = kindOf(req);
      const t = performance.now();
      if (kind === 'submit') {
        if (answerOut > 0) legs.clientTurn.push(t - answerOut);
        submitIn = t;
      } else if (kind === 'sync') {
        if (handOffOut > 0) legs.agentTurn.push(t - handOffOut);
        handOffOut = 0;
        syncIn = t;
      }
      if (kind) kinds.set(res, kind);
    }
    return emit.call(this, event, ...args);
  };
  http.Server.prototype.emit = /** @type {any} */ (timed);

  const end = http.ServerResponse.prototype.end;
  /** @type {any} */ (http.ServerResponse.prototype).end = function (/** @type {any[]} */ ...args) {
    const kind = kinds.get(this);
    const t = performance.now();
    // A parked sync answered by a submit that came after it: the job handed over.
    if (kind === 'sync' && submitIn > syncIn) {
      legs.handOff.push(t - submitIn);
      handOffOut = t;
    }
    // A waiting submit answered by the sync that carried its completion.
    if (kind === 'submit' && syncIn > submitIn) {
      legs.answer.push(t - syncIn);
      answerOut = t;
    }
    return end.apply(this, /** @type {any} */ (args));
  };

  process.on('exit', () => {
    try {
      writeFileSync(`${prefix}-${process.pid}.json`, JSON.stringify(legs));
    } catch {
      // Nothing to do at exit: the case then prints no legs (the smoke test would notice).
    }
  });
}
