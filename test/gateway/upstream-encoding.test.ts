// Proves that the gateway's data `request` frames are byte for byte those of the protocol's
// validating encoder (DESIGN.md §5.3), so leaving out the second validation on the hot path changes
// nothing on the wire: random get, put and del requests (rids across the 2^32 boundary, every CBOR
// length-header size for keys and values, Buffer and plain Uint8Array bytes) are encoded both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CLIENT_LIMITS, MAX_SHARDS, encodeDataFrame, type DataRequestFrame } from '../../src/protocol/index.js';
import { encodeRequestFrame, type UpstreamRequest } from '../../src/gateway/upstream.js';
import { seededRandom, testSeed, withSeed } from './helpers.js';

const CASES = 2_000;
/** Lengths on both sides of each CBOR length-header size (RFC 8949 §3: 23, 255, 65535). */
const EDGE_LENGTHS = [0, 1, 23, 24, 255, 256, 1024, 65_535, 65_536];

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = random() < 0.5 ? new Uint8Array(length) : Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

function randomLength(random: () => number, max: number): number {
  const edges = EDGE_LENGTHS.filter((length) => length <= max);
  return random() < 0.5 ? edges[Math.floor(random() * edges.length)]! : Math.floor(random() * (max + 1));
}

function randomInteger(random: () => number, max: number): number {
  const magnitude = [24, 256, 65_536, 2 ** 32, max][Math.floor(random() * 5)]!;
  return Math.min(max, Math.floor(random() * magnitude) + (random() < 0.2 ? 2 ** 32 - 2 : 0));
}

test('request frames match encodeDataFrame byte for byte', async () => {
  const seed = testSeed();
  await withSeed(seed, async () => {
    const random = seededRandom(seed);
    for (let index = 0; index < CASES; index++) {
      const op = (['get', 'put', 'del'] as const)[Math.floor(random() * 3)]!;
      const request: UpstreamRequest = {
        op,
        shard: Math.floor(random() * MAX_SHARDS),
        epoch: randomInteger(random, Number.MAX_SAFE_INTEGER),
        key: randomBytes(random, randomLength(random, DEFAULT_CLIENT_LIMITS.maxKeyBytes)),
      };
      if (op === 'put') request.value = randomBytes(random, randomLength(random, 70_000));
      const rid = randomInteger(random, Number.MAX_SAFE_INTEGER);
      const reference: DataRequestFrame = { type: 'request', rid, ...request };
      const expected = Buffer.from(encodeDataFrame(reference)).toString('hex');
      assert.equal(Buffer.from(encodeRequestFrame(rid, request)).toString('hex'), expected, `case ${index}: ${op} rid ${rid}`);
    }
  });
});
