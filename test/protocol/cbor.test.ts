// Proves the CBOR rules of DESIGN.md §5 byte by byte: integers of 2^32 and above are CBOR integers
// with an 8-byte argument (not float64), bytes are major type 2 (not tag 64), maps are plain, the
// decoder only ever throws ProtocolError on random input (seeded fuzz), and the deterministic
// encoder used for signatures matches the independent `cbor` package's canonical encoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cbor from 'cbor';
import { ProtocolError, decodeCbor, encodeCanonicalCbor, encodeCbor, isPlainObject } from '../../src/protocol/index.js';
import { prng, testSeed } from './samples.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

test('whole numbers of 2^32 and above are CBOR integers with an 8-byte argument (RFC 8949 §3.1)', () => {
  assert.equal(hex(encodeCbor(1_700_000_000_123)), '1b0000018bcfe5687b');
  assert.equal(hex(encodeCbor(2 ** 32)), '1b0000000100000000');
  assert.equal(hex(encodeCbor(Number.MAX_SAFE_INTEGER)), '1b001fffffffffffff');
  assert.equal(hex(encodeCbor(-(2 ** 40))), '3b000000ffffffffff');
  // Below 2^32 cbor-x already writes the shortest form.
  assert.equal(hex(encodeCbor(2 ** 32 - 1)), '1affffffff');
  assert.equal(hex(encodeCbor(23)), '17');
  assert.equal(hex(encodeCbor(-1)), '20');
});

test('non-integers stay float64, and integers come back as numbers', () => {
  assert.equal(hex(encodeCbor(1.5)), 'fb3ff8000000000000');
  assert.equal(hex(encodeCbor(2 ** 53 + 2)), 'fb4340000000000001'); // not a safe integer: float64
  // Our decoder returns 8-byte integers as bigint for the schemas to check; the generic decoder reads numbers.
  assert.equal(cbor.decodeFirstSync(encodeCbor({ ts: 1_700_000_000_123 })).ts, 1_700_000_000_123);
  assert.deepEqual(decodeCbor(encodeCbor({ ts: 1_700_000_000_123 }), 100), { ts: 1_700_000_000_123n });
});

test('byte strings are major type 2 without tag 64, maps are plain, undefined fields are left out', () => {
  assert.equal(hex(encodeCbor(new Uint8Array([1, 2, 3]))), '43010203');
  assert.equal(hex(encodeCbor(Buffer.from([1, 2, 3]))), '43010203');
  assert.equal(hex(encodeCbor({ a: 1, b: undefined })), 'a1616101');
  assert.equal(hex(encodeCbor({ a: [true, null, 'x'] })), 'a1616183f5f66178');
  const decoded = cbor.decodeFirstSync(encodeCbor({ v: new Uint8Array([7]) })) as { v: unknown };
  assert.ok(Buffer.isBuffer(decoded.v), 'a generic decoder reads a plain byte string as a Buffer');
});

test('things outside the wire data model are programmer errors', () => {
  assert.throws(() => encodeCbor(new Map([['a', 1]])), { name: 'AssertionError' });
  assert.throws(() => encodeCbor({ when: new Date() }), { name: 'AssertionError' });
  assert.throws(() => encodeCbor(10n), { name: 'AssertionError' });
});

test('decoding checks size first, then well-formedness', () => {
  assert.throws(() => decodeCbor(new Uint8Array(101), 100), (e: unknown) => e instanceof ProtocolError && e.code === 'PAYLOAD_TOO_LARGE');
  // Empty, truncated, reserved header, trailing bytes, indefinite byte string, stray break.
  for (const bad of ['', 'a1', 'a16161', '1c', 'a1616101ff', '5f', 'ff']) {
    assert.throws(() => decodeCbor(Buffer.from(bad, 'hex'), 100), (e: unknown) => e instanceof ProtocolError && e.code === 'MALFORMED', bad);
  }
  // A stray break inside a map never passes for an (empty) map.
  assert.equal(isPlainObject((decodeCbor(Buffer.from('a16161ff', 'hex'), 100) as { a: unknown }).a), false);
  // Nesting deeper than the stack is MALFORMED too, and the decoder still works afterwards.
  const deep = new Uint8Array(200_000).fill(0x81);
  assert.throws(() => decodeCbor(deep, deep.byteLength), (e: unknown) => e instanceof ProtocolError && e.code === 'MALFORMED');
  assert.deepEqual(decodeCbor(encodeCbor({ ok: 1 }), 100), { ok: 1 });
});

test('fuzz: random and mutated bytes only ever give ProtocolError', () => {
  const seed = testSeed();
  const random = prng(seed);
  const valid = encodeCbor({ id: 1, op: 'put', key: 'k', value: new Uint8Array(40), ts: 1_700_000_000_123, f: 0.5, list: [1, 'a', null] });
  try {
    for (let round = 0; round < 5000; round++) {
      let input: Uint8Array;
      if (round % 2 === 0) {
        input = new Uint8Array(Math.floor(random() * 64));
        for (let i = 0; i < input.length; i++) input[i] = Math.floor(random() * 256);
      } else {
        input = Uint8Array.from(valid);
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
        if (random() < 0.3) input = input.subarray(0, Math.floor(random() * input.length));
      }
      try {
        decodeCbor(input, 1024);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw new Error(`round ${round}: ${hex(input)} threw ${String(error)}`);
      }
    }
  } catch (error) {
    console.error(`cbor fuzz failed with seed ${seed} (rerun with FORESHARD_SEED=${seed})`);
    throw error;
  }
});

test('deterministic encoding: shortest heads, sorted keys, shortest exact floats (RFC 8949 §4.2.1)', () => {
  assert.equal(hex(encodeCanonicalCbor({ bb: 1, a: 2, c: 3 })), 'a3616102616303626262' + '01');
  assert.equal(hex(encodeCanonicalCbor(1.5)), 'f93e00');
  assert.equal(hex(encodeCanonicalCbor(0.1)), 'fb3fb999999999999a');
  assert.equal(hex(encodeCanonicalCbor(100000.5)), 'fa47c35040');
  assert.equal(hex(encodeCanonicalCbor(5.960464477539063e-8)), 'f90001'); // the smallest float16 subnormal
  assert.equal(hex(encodeCanonicalCbor(NaN)), 'f97e00');
  assert.equal(hex(encodeCanonicalCbor(-Infinity)), 'f9fc00');
  assert.equal(hex(encodeCanonicalCbor(1_700_000_000_123)), '1b0000018bcfe5687b');
  assert.equal(hex(encodeCanonicalCbor(-0)), '00');
});

function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 6 : 8));
  switch (pick) {
    case 0:
      return Math.floor((random() - 0.5) * 2 ** (1 + Math.floor(random() * 52)));
    case 1: {
      // Floats with few mantissa bits hit float16 and float32; others need float64.
      const bits = Math.floor(random() * 30);
      // (+ 0 turns -0 into 0: our form writes -0 as the integer 0, JS having one number type.)
      return Math.round((random() - 0.5) * 2 ** bits) / 2 ** Math.floor(random() * 40) + 0;
    }
    case 2:
      return Array.from({ length: Math.floor(random() * 12) }, () => String.fromCharCode(32 + Math.floor(random() * 400))).join('');
    case 3:
      // A Buffer, because the cbor package tags a plain Uint8Array (tag 64) even when canonical.
      return Buffer.from(Array.from({ length: Math.floor(random() * 10) }, () => Math.floor(random() * 256)));
    case 4:
      return random() < 0.5;
    case 5:
      return null;
    case 6:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      const count = Math.floor(random() * 6);
      for (let i = 0; i < count; i++) object[randomValue(random, 9) as string] = randomValue(random, depth + 1);
      return object;
    }
  }
}

test('deterministic encoding agrees with the independent cbor package (randomized)', () => {
  const seed = testSeed();
  const random = prng(seed);
  try {
    for (let round = 0; round < 500; round++) {
      let value = randomValue(random, 0);
      if (typeof value === 'string' || value === null) value = { [String(value)]: value };
      const ours = hex(encodeCanonicalCbor(value));
      const theirs = hex(cbor.encodeCanonical(value));
      assert.equal(ours, theirs, `round ${round}: ${JSON.stringify(value, (_, v) => (v instanceof Uint8Array ? hex(v) : v))}`);
    }
  } catch (error) {
    console.error(`canonical comparison failed with seed ${seed} (rerun with FORESHARD_SEED=${seed})`);
    throw error;
  }
});
