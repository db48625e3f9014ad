// Proves decodeDelta never traps and never returns a wrong value on bad input: hand-made malformed
// deltas get their documented codes; every strict prefix of a valid delta is DELTA_TRUNCATED;
// random bytes, random instruction streams and mutated deltas get the same outcome (the same error
// code, or the same bytes) from the WASM kernel and the reference; a mutated delta either fails or
// gives exactly the original target; and synthetic valid deltas using every instruction decode to
// the target the generator built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDelta, decodeDelta } from '../../src/kernels/delta.js';
import { encodeDeltaReference, decodeDeltaReference, xxhash32 } from '../../src/kernels/delta-reference.js';
import { KernelError } from '../../src/kernels/errors.js';
import { Random, withSeed, concat, edits } from './delta-random.js';

const FUZZ_CASES = 3000;

type Outcome = { code: string } | { bytes: Uint8Array };

function outcome(decode: (base: Uint8Array, delta: Uint8Array) => Uint8Array, base: Uint8Array, delta: Uint8Array): Outcome {
  try {
    return { bytes: decode(base, delta) };
  } catch (error) {
    // Anything but a KernelError (a WebAssembly trap, an assertion) fails the test.
    if (!(error instanceof KernelError)) throw error;
    return { code: error.code };
  }
}

function describe(result: Outcome): string {
  return 'code' in result ? result.code : `${result.bytes.length} bytes ${Buffer.from(result.bytes.subarray(0, 16)).toString('hex')}`;
}

/** Both decoders give the same outcome; returns it. */
function decodeBoth(base: Uint8Array, delta: Uint8Array, label: string): Outcome {
  const wasm = outcome(decodeDelta, base, delta);
  const reference = outcome(decodeDeltaReference, base, delta);
  assert.equal(describe(wasm), describe(reference), `${label}: WASM and reference disagree on delta ${Buffer.from(delta.subarray(0, 40)).toString('hex')}`);
  if ('bytes' in wasm && 'bytes' in reference) assert.ok(Buffer.compare(wasm.bytes, reference.bytes) === 0, `${label}: outputs differ`);
  return wasm;
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function header(targetLength: number, baseLength: number, checksum: number): number[] {
  return [0xfd, 0x01, ...varint(targetLength), ...varint(baseLength), checksum & 0xff, (checksum >>> 8) & 0xff, (checksum >>> 16) & 0xff, checksum >>> 24];
}

function expectCode(base: Uint8Array, delta: number[], code: string, label: string): void {
  const result = decodeBoth(base, new Uint8Array(delta), label);
  assert.equal(describe(result), code, label);
}

test('hand-made malformed deltas get their documented error codes', () => {
  const base = new TextEncoder().encode('0123456789abcdef');
  const target = base.subarray(0, 8);
  const sum = xxhash32(target);
  expectCode(base, [], 'DELTA_TRUNCATED', 'empty delta');
  expectCode(base, [0xfe, 0x01], 'DELTA_MALFORMED', 'bad magic');
  expectCode(base, [0xfd, 0x02], 'DELTA_MALFORMED', 'unknown version');
  expectCode(base, [0xfd, 0x01, 0x80, 0x80], 'DELTA_TRUNCATED', 'varint cut short');
  expectCode(base, [0xfd, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 'DELTA_MALFORMED', 'six-byte varint');
  expectCode(base, [0xfd, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10], 'DELTA_MALFORMED', 'varint over 32 bits');
  expectCode(base, [0xfd, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f], 'INPUT_TOO_LARGE', 'declared target of 4 GiB');
  expectCode(base, header(8, 16, sum).slice(0, -1), 'DELTA_TRUNCATED', 'checksum cut short');
  expectCode(base, header(8, 15, sum), 'DELTA_WRONG_BASE', 'base length differs');
  expectCode(base, [...header(8, 16, sum), 3], 'DELTA_MALFORMED', 'reserved instruction kind 3');
  expectCode(base, [...header(8, 16, sum), (8 << 2) | 0, ...base.subarray(0, 8)], 'DELTA_MALFORMED', 'insert past the target length');
  expectCode(base, [...header(8, 16, sum), (6 << 2) | 0, ...base.subarray(0, 3)], 'DELTA_TRUNCATED', 'insert with missing bytes');
  expectCode(base, [...header(8, 16, sum), ((8 - 4) << 2) | 1, 2 * 9], 'DELTA_MALFORMED', 'copy past the base end');
  expectCode(base, [...header(8, 16, sum), ((8 - 4) << 2) | 1, 1], 'DELTA_MALFORMED', 'copy before the base start');
  expectCode(base, [...header(8, 16, sum), ((8 - 4) << 2) | 1, 0, 0], 'DELTA_MALFORMED', 'bytes after the last instruction');
  expectCode(base, [...header(8, 16, sum), ((4 - 4) << 2) | 1, 0], 'DELTA_TRUNCATED', 'instructions end before the target');
  expectCode(base, [...header(8, 16, sum), ((8 - 4) << 2) | 2, 0x30], 'DELTA_WRONG_BASE', 'valid shape, wrong checksum');
  const good = decodeBoth(base, new Uint8Array([...header(8, 16, sum), ((8 - 4) << 2) | 1, 0]), 'valid copy');
  assert.ok('bytes' in good && Buffer.compare(good.bytes, target) === 0);
});

test('every strict prefix of a valid delta is DELTA_TRUNCATED', () => {
  withSeed('prefixes', (random) => {
    for (let index = 0; index < 40; index++) {
      const base = random.bytes(random.length(3000), random.pick([4, 256]));
      const target = edits.moveBlock!(random, edits.insert!(random, edits.fillRun!(random, base)));
      const delta = encodeDelta(base, target);
      for (let length = 0; length < delta.length; length++) {
        assert.equal(describe(decodeBoth(base, delta.subarray(0, length), `prefix ${length}/${delta.length}`)), 'DELTA_TRUNCATED');
      }
    }
  });
});

test('random bytes and random instruction streams: same outcome from both decoders, never a trap', () => {
  withSeed('random deltas', (random) => {
    for (let index = 0; index < FUZZ_CASES; index++) {
      const base = random.bytes(random.length(200));
      decodeBoth(base, random.bytes(random.length(64)), `random bytes ${index}`);
      // Behind a plausible header the instruction decoder itself is exercised.
      const targetLength = random.length(300);
      const stream = random.bytes(random.length(64), random.pick([4, 16, 256]));
      decodeBoth(base, new Uint8Array([...header(targetLength, base.length, random.below(2 ** 32)), ...stream]), `random stream ${index}`);
    }
  });
});

test('a mutated valid delta fails with a typed error or still gives exactly the target', () => {
  withSeed('mutations', (random) => {
    for (let index = 0; index < FUZZ_CASES; index++) {
      const base = random.bytes(random.length(2000), random.pick([8, 256]));
      const target = edits.flipBytes!(random, edits.delete!(random, edits.append!(random, base)));
      const delta = encodeDeltaReference(base, target).slice();
      const mutations = 1 + random.below(3);
      for (let mutation = 0; mutation < mutations; mutation++) {
        const at = random.below(delta.length);
        delta[at] = random.next() < 0.5 ? delta[at]! ^ (1 << random.below(8)) : random.below(256);
      }
      const result = decodeBoth(base, delta, `mutation ${index}`);
      if ('bytes' in result) assert.ok(Buffer.compare(result.bytes, target) === 0, `mutation ${index}: a wrong value was returned`);
    }
  });
});

/** A valid delta from random instructions of every kind, and the target it must decode to. */
function syntheticDelta(random: Random, base: Uint8Array): { delta: Uint8Array; target: Uint8Array } {
  const parts: Uint8Array[] = [];
  const instructions: number[] = [];
  let lastCopyEnd = 0;
  for (let count = random.below(12); count > 0; count--) {
    const kind = random.below(3);
    if (kind === 0 || base.length < 4) {
      const literal = random.bytes(1 + random.length(100));
      instructions.push(...varint((literal.length - 1) * 4), ...literal);
      parts.push(literal);
    } else if (kind === 1) {
      const length = 4 + random.below(base.length - 3);
      const start = random.below(base.length - length + 1);
      const distance = start - lastCopyEnd;
      instructions.push(...varint((length - 4) * 4 + 1), ...varint(distance >= 0 ? distance * 2 : -distance * 2 - 1));
      parts.push(base.subarray(start, start + length));
      lastCopyEnd = start + length;
    } else {
      const length = 4 + random.length(200);
      const value = random.below(256);
      instructions.push(...varint((length - 4) * 4 + 2), value);
      parts.push(new Uint8Array(length).fill(value));
    }
  }
  const target = concat(...parts);
  return { delta: new Uint8Array([...header(target.length, base.length, xxhash32(target)), ...instructions]), target };
}

test('synthetic valid deltas with every instruction kind decode to the generator\'s target', () => {
  withSeed('synthetic deltas', (random) => {
    for (let index = 0; index < FUZZ_CASES; index++) {
      const base = random.bytes(random.length(1000));
      const { delta, target } = syntheticDelta(random, base);
      const result = decodeBoth(base, delta, `synthetic ${index}`);
      assert.ok('bytes' in result && Buffer.compare(result.bytes, target) === 0, `synthetic ${index}: ${describe(result)}`);
    }
  });
});
