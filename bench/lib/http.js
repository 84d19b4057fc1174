import { Pool } from 'undici';

/**
 * @typedef {object} Client
 * @property {Pool} pool
 * @property {(method: 'GET' | 'POST', path: string, body?: unknown, token?: string | null) => Promise<{ status: number, text: string }>} call
 *   one request; `body` is sent as is when a string, else as JSON; `token` null sends no Authorization
 * @property {(method: 'GET' | 'POST', path: string, body?: unknown, ok?: number[], token?: string | null) => Promise<any>} json
 *   like `call`, but parses the body and throws unless the status is one of `ok`
 * @property {() => Promise<void>} close
 */

/**
 * A keep-alive undici Pool with JSON helpers. Never `fetch`: on Node 20 it costs ~5.6× the
 * client CPU and adds ~0.3 ms per request (../shared/bench/limits/RESULTS.md, table 1a).
 * @param {string} url
 * @param {{ connections?: number, token?: string }} [options]
 * @returns {Client}
 */
export function createClient(url, { connections = 1, token } = {}) {
  const pool = new Pool(url, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 120_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });

  /** @type {Client['call']} */
  async function call(method, path, body, tok = token) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (tok) headers.authorization = `Bearer ${tok}`;
    /** @type {string | undefined} */
    let payload;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const res = await pool.request({ method, path, headers, body: payload ?? null });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  }

  /** @type {Client['json']} */
  async function json(method, path, body, ok = [200, 201], tok = token) {
    const res = await call(method, path, body, tok);
    if (!ok.includes(res.status)) {
      throw new Error(`${method} ${path} → ${res.status}: ${res.text.slice(0, 500)}`);
    }
    return JSON.parse(res.text);
  }

  return { pool, call, json, close: () => pool.close() };
}
