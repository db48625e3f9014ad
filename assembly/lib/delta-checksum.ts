// XXH32 with seed 0 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), the target
// checksum of a delta header. It reads little-endian 32-bit lanes straight from linear memory, as
// WebAssembly loads are little-endian by definition.

// @ts-ignore: decorator
@inline const PRIME32_1: u32 = 0x9e3779b1;
// @ts-ignore: decorator
@inline const PRIME32_2: u32 = 0x85ebca77;
// @ts-ignore: decorator
@inline const PRIME32_3: u32 = 0xc2b2ae3d;
// @ts-ignore: decorator
@inline const PRIME32_4: u32 = 0x27d4eb2f;
// @ts-ignore: decorator
@inline const PRIME32_5: u32 = 0x165667b1;

// @ts-ignore: decorator
@inline function xxhashRound(accumulator: u32, lane: u32): u32 {
  return rotl<u32>(accumulator + lane * PRIME32_2, 13) * PRIME32_1;
}

/** XXH32 (seed 0) of the `length` bytes at `pointer`. */
export function xxhash32(pointer: usize, length: usize): u32 {
  let position = pointer;
  const end = pointer + length;
  let hash: u32;
  if (length >= 16) {
    let v1: u32 = PRIME32_1 + PRIME32_2;
    let v2: u32 = PRIME32_2;
    let v3: u32 = 0;
    let v4: u32 = 0 - PRIME32_1;
    const stripesEnd = end - 16;
    while (position <= stripesEnd) {
      v1 = xxhashRound(v1, load<u32>(position));
      v2 = xxhashRound(v2, load<u32>(position, 4));
      v3 = xxhashRound(v3, load<u32>(position, 8));
      v4 = xxhashRound(v4, load<u32>(position, 12));
      position += 16;
    }
    hash = rotl<u32>(v1, 1) + rotl<u32>(v2, 7) + rotl<u32>(v3, 12) + rotl<u32>(v4, 18);
  } else {
    hash = PRIME32_5;
  }
  hash += <u32>length;
  while (position + 4 <= end) {
    hash = rotl<u32>(hash + load<u32>(position) * PRIME32_3, 17) * PRIME32_4;
    position += 4;
  }
  while (position < end) {
    hash = rotl<u32>(hash + <u32>load<u8>(position) * PRIME32_5, 11) * PRIME32_1;
    position++;
  }
  hash = (hash ^ (hash >> 15)) * PRIME32_2;
  hash = (hash ^ (hash >> 13)) * PRIME32_3;
  return hash ^ (hash >> 16);
}
