// Proves the delta codec keeps its documented contract: the format's test vectors (checksum and a
// hand-checked delta), the size bound, typed errors for a wrong base and for limits, a 16 MiB
// round trip, and kernel memory that is reused, grown only for larger inputs and capped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeDelta,
  decodeDelta,
  configureDeltaKernel,
  deltaKernelMemoryBytes,
  DELTA_KERNEL_DEFAULTS,
} from '../../src/kernels/delta.js';
import { encodeDeltaReference, decodeDeltaReference, maxDeltaLength, xxhash32 } from '../../src/kernels/delta-reference.js';
import { KernelError, type KernelErrorCode } from '../../src/kernels/errors.js';

const text = new TextEncoder();
const MiB = 1024 * 1024;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.ok(Buffer.compare(actual, expected) === 0, `${what}: ${actual.length} bytes differ from the expected ${expected.length}`);
}

function throwsCode(body: () => unknown, code: KernelErrorCode): void {
  assert.throws(body, (error: unknown) => error instanceof KernelError && error.code === code);
}

/** Fast deterministic filler for large inputs (xorshift32), not a quality PRNG. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let state = seed >>> 0 || 1;
  for (let index = 0; index < words.length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[index] = state;
  }
  return new Uint8Array(words.buffer, 0, length);
}

test('xxhash32 matches the published XXH32 test vectors (seed 0)', () => {
  assert.equal(xxhash32(text.encode('')), 0x02cc5d05);
  assert.equal(xxhash32(text.encode('a')), 0x550d7456);
  assert.equal(xxhash32(text.encode('abc')), 0x32d153ff);
  assert.equal(xxhash32(text.encode('Nobody inspects the spammish repetition')), 0xe2293b2f);
});

test('the worked example of docs/delta-format.md encodes and decodes to the documented bytes', () => {
  const base = text.encode('The quick brown fox jumps over the lazy dog.');
  const target = text.encode('The quick brown cat jumps over the lazy dog!!!!!!!!!!!!!!!!!!!!');
  const documented = 'fd013f2c140c5b8431000863617451064221';
  assert.equal(hex(encodeDelta(base, target)), documented);
  assert.equal(hex(encodeDeltaReference(base, target)), documented);
  sameBytes(decodeDelta(base, Buffer.from(documented, 'hex')), target, 'wasm decode');
  sameBytes(decodeDeltaReference(base, Buffer.from(documented, 'hex')), target, 'reference decode');
});

test('a delta is never larger than the target plus 18 bytes, even for unrelated inputs', () => {
  for (const length of [0, 1, 7, 8, 100, 4096, 100_000]) {
    const target = pseudoRandomBytes(length, length + 1);
    const base = pseudoRandomBytes(length, length + 2);
    const delta = encodeDelta(base, target);
    assert.ok(delta.length <= target.length + 18, `${length}: delta of ${delta.length} bytes`);
    assert.ok(delta.length <= maxDeltaLength(base.length, target.length));
    sameBytes(decodeDelta(base, delta), target, `unrelated ${length}`);
  }
  assert.equal(maxDeltaLength(16 * MiB, 16 * MiB), 16 * MiB + 18);
});

test('identical values give a delta of a few bytes', () => {
  const value = pseudoRandomBytes(64 * 1024, 7);
  const delta = encodeDelta(value, value);
  assert.ok(delta.length <= 16, `delta of ${delta.length} bytes`);
  sameBytes(decodeDelta(value, delta), value, 'identical');
});

test('applying a delta to another base throws DELTA_WRONG_BASE, never a wrong value', () => {
  const base = pseudoRandomBytes(10_000, 11);
  const target = base.slice();
  target.set([1, 2, 3], 5000);
  const delta = encodeDelta(base, target);
  const otherBase = base.slice();
  otherBase[100] = otherBase[100]! ^ 0xff; // inside the first copy
  throwsCode(() => decodeDelta(otherBase, delta), 'DELTA_WRONG_BASE');
  throwsCode(() => decodeDeltaReference(otherBase, delta), 'DELTA_WRONG_BASE');
  throwsCode(() => decodeDelta(base.subarray(1), delta), 'DELTA_WRONG_BASE');
  throwsCode(() => decodeDeltaReference(base.subarray(1), delta), 'DELTA_WRONG_BASE');
  sameBytes(decodeDelta(base, delta), target, 'the right base still works after errors');
});

test('a 16 MiB value with edits round-trips through both implementations with identical deltas', () => {
  const base = pseudoRandomBytes(16 * MiB, 16);
  const target = base.slice();
  for (let edit = 1; edit <= 20; edit++) target.set([edit, edit, edit], edit * 800_000);
  const delta = encodeDelta(base, target);
  sameBytes(encodeDeltaReference(base, target), delta, 'reference delta');
  assert.ok(delta.length < 400, `delta of ${delta.length} bytes`);
  sameBytes(decodeDelta(base, delta), target, 'wasm decode');
  sameBytes(decodeDeltaReference(base, delta), target, 'reference decode');
  const fromEmpty = encodeDelta(new Uint8Array(0), target);
  assert.ok(fromEmpty.length <= target.length + 18);
  sameBytes(decodeDelta(new Uint8Array(0), fromEmpty), target, 'from an empty base');
});

test('kernel memory is reused, grows only for a larger input, and stops at the ceiling', () => {
  // Start from a small instance whatever earlier tests grew: a low ceiling drops a larger one.
  configureDeltaKernel({ memoryLimitBytes: 1 * MiB });
  configureDeltaKernel(DELTA_KERNEL_DEFAULTS);
  const small = pseudoRandomBytes(1000, 3);
  const large = pseudoRandomBytes(2 * MiB, 4);
  encodeDelta(small, small);
  const afterSmall = deltaKernelMemoryBytes();
  for (let call = 0; call < 50; call++) decodeDelta(small, encodeDelta(small, small));
  assert.equal(deltaKernelMemoryBytes(), afterSmall, 'repeated small calls do not grow memory');
  encodeDelta(large, large);
  const afterLarge = deltaKernelMemoryBytes();
  assert.ok(afterLarge > afterSmall);
  encodeDelta(small, small);
  assert.equal(deltaKernelMemoryBytes(), afterLarge, 'a smaller call after a large one reuses memory');

  configureDeltaKernel({ memoryLimitBytes: 4 * MiB });
  assert.equal(deltaKernelMemoryBytes(), 0, 'lowering the ceiling below the held memory drops the instance');
  throwsCode(() => encodeDelta(large, large), 'MEMORY_LIMIT');
  throwsCode(() => decodeDelta(large, encodeDeltaReference(large, large)), 'MEMORY_LIMIT');
  sameBytes(decodeDelta(small, encodeDelta(small, large.subarray(0, 5000))), large.subarray(0, 5000), 'works after MEMORY_LIMIT');
  assert.ok(deltaKernelMemoryBytes() <= 4 * MiB);
  configureDeltaKernel(DELTA_KERNEL_DEFAULTS);
});

test('values over maxValueBytes throw INPUT_TOO_LARGE, also when a delta declares such a target', () => {
  configureDeltaKernel({ maxValueBytes: 1000 });
  const value = pseudoRandomBytes(1001, 5);
  throwsCode(() => encodeDelta(value, value.subarray(0, 10)), 'INPUT_TOO_LARGE');
  throwsCode(() => encodeDelta(value.subarray(0, 10), value), 'INPUT_TOO_LARGE');
  const delta = encodeDeltaReference(new Uint8Array(0), value);
  throwsCode(() => decodeDelta(new Uint8Array(0), delta), 'INPUT_TOO_LARGE');
  throwsCode(() => decodeDeltaReference(new Uint8Array(0), delta, { maxValueBytes: 1000 }), 'INPUT_TOO_LARGE');
  configureDeltaKernel(DELTA_KERNEL_DEFAULTS);
  sameBytes(decodeDelta(new Uint8Array(0), delta), value, 'accepted again at the default limit');
  assert.equal(configureDeltaKernel({ memoryLimitBytes: 1 }).memoryLimitBytes, MiB, 'the ceiling is clamped to what the kernel needs to start');
  configureDeltaKernel(DELTA_KERNEL_DEFAULTS);
});
