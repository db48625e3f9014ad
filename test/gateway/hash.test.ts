// Proves the key → shard hash is FNV-1a 32-bit of the key's bytes mod S, by published test vectors
// (the same ones as the README), and that text keys hash as their UTF-8 bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a32, shardOfKey } from '../../src/gateway/index.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

test('FNV-1a 32 matches the reference vectors', () => {
  // From the FNV reference (draft-eastlake-fnv): "" → offset basis, "a" → e40c292c, "foobar" → bf9cf968.
  assert.equal(fnv1a32(utf8('')), 0x811c9dc5);
  assert.equal(fnv1a32(utf8('a')), 0xe40c292c);
  assert.equal(fnv1a32(utf8('foobar')), 0xbf9cf968);
});

test('shard vectors of the README', () => {
  const vectors: [string, number, number][] = [
    ['a', 16, 12],
    ['foobar', 16, 8],
    ['user:42', 16, 2],
    ['user:42', 1024, 898],
    ['héllo', 16, 0],
  ];
  for (const [key, shardCount, shard] of vectors) assert.equal(shardOfKey(key, shardCount), shard, `${key} mod ${shardCount}`);
});

test('a text key and its UTF-8 bytes land on the same shard', () => {
  for (const key of ['x', 'héllo', '鍵', 'user:7']) assert.equal(shardOfKey(key, 97), shardOfKey(utf8(key), 97));
});

test('a bad shard count is refused', () => {
  assert.throws(() => shardOfKey('a', 0), RangeError);
});
