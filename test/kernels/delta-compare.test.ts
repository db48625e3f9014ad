// Proves the WASM delta kernel and the TypeScript reference are the same codec: on thousands of
// seeded random and structured updates (byte flips, inserts, deletes, moved blocks, appends, runs,
// JSON field edits, empty, identical and unrelated values) both write byte-identical deltas within
// the size bound, and each decodes the other's deltas back to the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDelta, decodeDelta } from '../../src/kernels/delta.js';
import { encodeDeltaReference, decodeDeltaReference, maxDeltaLength } from '../../src/kernels/delta-reference.js';
import { Random, withSeed, edits, jsonUpdate } from './delta-random.js';

const RANDOM_CASES = 2500;
const JSON_CASES = 300;
const VALUE_BYTES_MAX = 20_000;

function checkUpdate(base: Uint8Array, target: Uint8Array, label: string): void {
  const wasmDelta = encodeDelta(base, target);
  const referenceDelta = encodeDeltaReference(base, target);
  const context = `${label} (base ${base.length} B, target ${target.length} B)`;
  assert.ok(Buffer.compare(wasmDelta, referenceDelta) === 0, `${context}: deltas differ`);
  assert.ok(wasmDelta.length <= maxDeltaLength(base.length, target.length), `${context}: delta of ${wasmDelta.length} B is over the bound`);
  assert.ok(Buffer.compare(decodeDelta(base, referenceDelta), target) === 0, `${context}: WASM decode of the reference delta`);
  assert.ok(Buffer.compare(decodeDeltaReference(base, wasmDelta), target) === 0, `${context}: reference decode of the WASM delta`);
}

/** A base value of one of several textures: random, low-entropy, structured records or one byte. */
function baseValue(random: Random): Uint8Array {
  const length = random.length(VALUE_BYTES_MAX);
  switch (random.below(4)) {
    case 0:
      return random.bytes(length);
    case 1:
      return random.bytes(length, random.pick([2, 4, 16]));
    case 2: {
      const record = random.bytes(1 + random.below(64));
      const out = new Uint8Array(length);
      for (let offset = 0; offset < length; offset++) out[offset] = record[offset % record.length]! ^ (offset % 251 === 0 ? 1 : 0);
      return out;
    }
    default:
      return new Uint8Array(length).fill(random.below(256));
  }
}

test('edge cases: empty, tiny, identical and unrelated values', () => {
  const random = new Random(1);
  const values = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 64].map((length) => random.bytes(length));
  for (const base of values) {
    for (const target of values) checkUpdate(base, target, 'edge');
    checkUpdate(base, base, 'identical');
  }
  checkUpdate(new Uint8Array(0), new Uint8Array(5000), 'zeros from empty');
  checkUpdate(random.bytes(5000), random.bytes(5000), 'unrelated');
});

test('random chains of edits give identical deltas that cross-decode', () => {
  const names = Object.keys(edits);
  withSeed('random edits', (random) => {
    for (let index = 0; index < RANDOM_CASES; index++) {
      const base = baseValue(random);
      let target = base;
      const applied: string[] = [];
      for (let step = random.below(4); step >= 0; step--) {
        const name = random.pick(names);
        target = edits[name]!(random, target);
        applied.push(name);
      }
      checkUpdate(base, target, `case ${index}: ${applied.join(', ')}`);
    }
  });
});

test('JSON documents with field edits give identical deltas that cross-decode', () => {
  withSeed('json edits', (random) => {
    for (let index = 0; index < JSON_CASES; index++) {
      const { base, target } = jsonUpdate(random);
      checkUpdate(base, target, `json case ${index}`);
    }
  });
});
