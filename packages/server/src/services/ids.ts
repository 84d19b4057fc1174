import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Job ids that sort by creation time: 10 characters of millisecond timestamp, then a
 * per-process counter and randomness, in Crockford base32 (lowercase). Monotonic within
 * a process even when the clock stands still.
 */
export function createJobIdFactory(): (now: number) => string {
  let lastMs = -1;
  let counter = 0;
  const prefix = randomBytes(4).readUInt32BE(0);
  return (now: number) => {
    if (now > lastMs) {
      lastMs = now;
      counter = 0;
    } else {
      counter++;
    }
    return `job_${encode(lastMs, 10)}${encode(counter, 4)}${encode(prefix, 7)}`;
  };
}

function encode(n: number, width: number): string {
  let out = '';
  let v = n;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[v % 32]! + out;
    v = Math.floor(v / 32);
  }
  return out;
}
