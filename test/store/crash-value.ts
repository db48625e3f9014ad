// The value the crash writer stores under a key: derived from the key, so the parent can check
// every acknowledged write's exact bytes without the child telling it.
import { createHash } from 'node:crypto';

/** Deterministic bytes of length 1..maxBytes for `key`. */
export function crashValue(key: string, maxBytes: number): Buffer {
  const digest = createHash('sha256').update(key).digest();
  const length = 1 + (digest.readUInt32LE(0) % maxBytes);
  const value = Buffer.alloc(length);
  for (let i = 0; i < length; i += digest.length) digest.copy(value, i, 0, Math.min(digest.length, length - i));
  return value;
}
