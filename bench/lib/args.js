/**
 * Flags as `--key value` pairs into an object of strings (a flag with no value is "true").
 * @param {string[]} [argv]
 * @returns {Record<string, string>}
 */
export function parseArgs(argv = process.argv.slice(2)) {
  /** @type {Record<string, string>} */
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === undefined || !a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = 'true';
    else {
      out[a.slice(2)] = next;
      i++;
    }
  }
  return out;
}
