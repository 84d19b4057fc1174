/** The last `maxBytes` bytes of `text` as UTF-8, cut at a character boundary. */
export function utf8Tail(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let start = buf.length - maxBytes;
  while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++; // skip continuation bytes
  return buf.subarray(start).toString('utf8');
}

/**
 * Admits one output chunk to a job's log under the per-job cap (both backends): advances the
 * log's seq and byte count and returns what to store — the chunk, or its tail when the chunk
 * alone is over the cap — or null when the cap keeps nothing. Marks the log truncated when it
 * cut; older chunks over the cap are trimmed afterwards, per job.
 */
export function admitChunk(
  log: { seq: number; bytes: number; truncated: boolean },
  text: string,
  capBytes: number,
): { seq: number; data: string; bytes: number } | null {
  if (capBytes <= 0) {
    log.truncated = true;
    return null;
  }
  let data = text;
  let bytes = Buffer.byteLength(data, 'utf8');
  if (bytes > capBytes) {
    data = utf8Tail(data, capBytes);
    bytes = Buffer.byteLength(data, 'utf8');
    log.truncated = true;
  }
  log.seq += 1;
  log.bytes += bytes;
  return { seq: log.seq, data, bytes };
}
