/**
 * Key → shard (DESIGN.md §2): `shard = FNV-1a-32(key bytes) mod S`, where S is the routing
 * table's `shardCount` and the key bytes are the key as stored (a text key's UTF-8 bytes).
 *
 * FNV-1a 32-bit (Fowler–Noll–Vo, draft-eastlake-fnv): start at the offset basis 0x811c9dc5; for each
 * byte, XOR it in, then multiply by the prime 0x01000193 modulo 2^32. The result is read as an
 * unsigned 32-bit integer. It is short enough for any client to implement, and its test vectors
 * (the README and test/gateway/hash.test.ts) pin it down. No `node:` import: clients use it too.
 */

/** FNV-1a 32-bit offset basis. */
export const FNV1A_32_OFFSET_BASIS = 0x811c9dc5;
/** FNV-1a 32-bit prime. */
export const FNV1A_32_PRIME = 0x01000193;

/** FNV-1a 32-bit hash of `bytes`, as an unsigned integer. */
export function fnv1a32(bytes: Uint8Array): number {
  let hash = FNV1A_32_OFFSET_BASIS;
  for (let index = 0; index < bytes.length; index++) {
    hash ^= bytes[index]!;
    // Math.imul keeps the product exact modulo 2^32, which a float multiply would not.
    hash = Math.imul(hash, FNV1A_32_PRIME);
  }
  return hash >>> 0;
}

const utf8 = new TextEncoder();

/** The shard of `key` (text keys hash as their UTF-8 bytes) in a cluster of `shardCount` shards. */
export function shardOfKey(key: Uint8Array | string, shardCount: number): number {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1) throw new RangeError(`shardCount must be a positive integer, got ${shardCount}`);
  return fnv1a32(typeof key === 'string' ? utf8.encode(key) : key) % shardCount;
}
