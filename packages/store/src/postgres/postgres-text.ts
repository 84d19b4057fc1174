/**
 * PostgreSQL's `text` cannot hold U+0000 (NUL): a parameter with one fails the whole
 * statement (22021), where SQLite stores it. NUL is valid JSON and valid output, so it
 * arrives: a command's binary output in a log chunk, an error message quoting it, a job
 * name or tag, an id in a URL (`/jobs/%00`). Every string handed to the store is therefore
 * passed with each NUL replaced by U+FFFD, the replacement character — what the agent
 * already puts in place of output bytes that are not UTF-8. Lookups lose nothing (no id or
 * name the server hands out contains either character); stored text shows U+FFFD where the
 * NUL was. `payload` and `result` are stored as JSON text, which escapes NUL (`\u0000`), so
 * they are left exactly as given.
 */
const NUL = '\u0000';
const REPLACEMENT = '\uFFFD';
const JSON_STORED = new Set(['payload', 'result']);

/** The arguments of a store call with NUL replaced in every string; the same objects when none has one. */
export function withoutNul<T>(value: T): T {
  return hasNul(value) ? (replaceNul(value) as T) : value;
}

// Every store call's arguments are walked (a batch of 250 completions is ~2,000 values), so
// without allocating: Object.entries, an array per object and one per key, was 7 % of the
// server's allocations in the processing benchmark.
function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(NUL);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const v of value) if (hasNul(v)) return true;
    return false;
  }
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    if (Object.hasOwn(obj, k) && (k.includes(NUL) || (!JSON_STORED.has(k) && hasNul(obj[k]))))
      return true;
  }
  return false;
}

function replaceNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll(NUL, REPLACEMENT);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(replaceNul);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // a Date, a Buffer: as is
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // defineProperty: an own "__proto__" key stays a key
    Object.defineProperty(out, k.replaceAll(NUL, REPLACEMENT), {
      value: JSON_STORED.has(k) ? v : replaceNul(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Characters that need a backslash inside a double-quoted element of an array literal. */
const ARRAY_ESCAPE = /["\\]/;
const ARRAY_ESCAPES = /["\\]/g;
/** An escape of JSON's that an array literal reads otherwise: `\n` is `n` there. */
const JSON_ONLY_ESCAPE = /\\[bfnrtu]/;

/**
 * A one-dimensional array parameter as PostgreSQL's array literal, `{"a","b",null,3}`, for
 * node-postgres, which would make one itself of a JS array with two regex replaces per
 * element and a conversion call per value. Batched statements pass each column as an array
 * (unnest): in a 20,000-job processing run (with its fill) node-postgres's encoding took
 * 154 ms of the server's CPU. Most arrays are JSON.stringify's text with other brackets — an
 * array literal quotes and backslash-escapes `"` and `\` inside its elements as JSON does,
 * and reads `null` as NULL — which allocates one string where building the literal element
 * by element allocated 74 MB in that run (10 % of the server's allocations). Strings with
 * control characters and numbers JSON cannot write are quoted one by one; an array holding
 * anything but strings, numbers, booleans and null is left to node-postgres.
 */
export function arrayLiteral(values: readonly unknown[]): string | readonly unknown[] {
  let jsonSafe = true;
  // Index loops: for-of allocated an iterator result per value here (~40 MB in that run).
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') jsonSafe &&= Number.isFinite(v);
    else if (typeof v === 'bigint') jsonSafe = false;
    else return values;
  }
  if (jsonSafe) {
    const json = JSON.stringify(values);
    if (!JSON_ONLY_ESCAPE.test(json)) return `{${json.slice(1, -1)}}`;
  }
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'string')
      out += ARRAY_ESCAPE.test(v) ? `"${v.replace(ARRAY_ESCAPES, '\\$&')}"` : `"${v}"`;
    else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
      out += `"${String(v)}"`;
  }
  return `${out}}`;
}

/** Query parameters with each array as its literal (arrayLiteral). */
export function queryParams(values: readonly unknown[]): unknown[] {
  const out = values.slice();
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (Array.isArray(v)) out[i] = arrayLiteral(v);
  }
  return out;
}

/**
 * `text` as a string literal for SQL sent as text, as node-postgres's escapeLiteral writes it
 * (quotes doubled; with a backslash, an E'' literal with backslashes doubled) but by replace
 * rather than a concatenation per character: the change notifications sent with each commit
 * (~7 KB of JSON each) made it 10 % of the server's allocations in the processing benchmark.
 */
export function sqlLiteral(text: string): string {
  const quoted = text.includes("'") ? text.replaceAll("'", "''") : text;
  return text.includes('\\') ? ` E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}
