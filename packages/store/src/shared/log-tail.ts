/** The last `maxBytes` bytes of `text` as UTF-8, cut at a character boundary. */
export function utf8Tail(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let start = buf.length - maxBytes;
  while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++; // skip continuation bytes
  return buf.subarray(start).toString('utf8');
}
