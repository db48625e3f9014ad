// Proves the client ↔ gateway frames of DESIGN.md §5.1 behave as a client would notice: requests and
// responses round-trip in binary (CBOR, byte values) and text (JSON, string values) framings, an
// oversize key, value or frame gives TOO_LARGE while anything else wrong gives BAD_REQUEST, the
// request id is recovered whenever it can be, limits are configurable, and random frames never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cbor from 'cbor';
import {
  encodeCbor,
  encodeClientRequest,
  encodeClientResponse,
  maxClientFrameBytes,
  parseClientRequest,
  parseClientResponse,
  resolveClientLimits,
  DEFAULT_CLIENT_LIMITS,
  type ClientFraming,
  type ParsedClientRequest,
} from '../../src/protocol/index.js';
import { comparable, prng, testSeed } from './samples.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
const textFrame = (value: unknown) => utf8(JSON.stringify(value));

function failureOf(parsed: ParsedClientRequest): { id: number | null; code: string } {
  assert.equal(parsed.ok, false, 'expected the request to be refused');
  if (parsed.ok) throw new Error('unreachable');
  return { id: parsed.failure.id, code: parsed.failure.error.code };
}

test('requests round-trip in both framings; text keys and values become their UTF-8 bytes', () => {
  for (const framing of ['binary', 'text'] as ClientFraming[]) {
    const frame = encodeClientRequest({ id: 7, op: 'put', key: 'user:ü', value: 'héllo' }, framing);
    const parsed = parseClientRequest(typeof frame === 'string' ? utf8(frame) : frame, framing);
    assert.ok(parsed.ok, framing);
    assert.deepEqual(comparable(parsed.request), comparable({ id: 7, op: 'put', key: utf8('user:ü'), value: utf8('héllo') }));
  }
  const binary = parseClientRequest(encodeCbor({ id: 1, op: 'get', key: new Uint8Array([0, 255]) }), 'binary');
  assert.ok(binary.ok && binary.request.key[1] === 255 && binary.request.value === undefined);
});

test('binary responses carry byte strings, text responses UTF-8 strings', () => {
  const success = { id: 3, ok: true as const, shard: 12, value: utf8('v1'), lsn: 5_000_000_000 };
  const binary = encodeClientResponse(success, 'binary') as Uint8Array;
  assert.ok(Buffer.isBuffer((cbor.decodeFirstSync(binary) as { value: unknown }).value));
  assert.deepEqual(comparable(parseClientResponse(binary, 'binary')), comparable(success));
  const text = encodeClientResponse(success, 'text') as string;
  assert.deepEqual(JSON.parse(text), { id: 3, ok: true, shard: 12, value: 'v1', lsn: 5_000_000_000 });
  assert.deepEqual(parseClientResponse(text, 'text'), { ...success, value: 'v1' });
  const missing = encodeClientResponse({ id: 4, ok: true, shard: 1, value: null }, 'text') as string;
  assert.equal(JSON.parse(missing).value, null);
  const failure = { id: 5, ok: false as const, error: { code: 'UNAVAILABLE' as const, message: 'shard 3 is switching', retryAfterMs: 250 } };
  assert.deepEqual(parseClientResponse(encodeClientResponse(failure, 'binary'), 'binary'), failure);
  assert.deepEqual(parseClientResponse(encodeClientResponse(failure, 'text'), 'text'), failure);
});

test('a stored value that is not UTF-8 is refused in a text frame, never altered', () => {
  const text = encodeClientResponse({ id: 9, ok: true, shard: 0, value: new Uint8Array([0xff, 0xfe]) }, 'text') as string;
  const parsed = JSON.parse(text);
  assert.equal(parsed.ok, false);
  assert.equal(parsed.id, 9);
  assert.equal(parsed.error.code, 'BAD_REQUEST');
});

test('oversize key, value or frame gives TOO_LARGE with the id when it can be read', () => {
  const bigKey = 'k'.repeat(1025);
  assert.deepEqual(failureOf(parseClientRequest(textFrame({ id: 1, op: 'get', key: bigKey }), 'text')), { id: 1, code: 'TOO_LARGE' });
  assert.deepEqual(failureOf(parseClientRequest(encodeCbor({ id: 2, op: 'get', key: new Uint8Array(1025) }), 'binary')), { id: 2, code: 'TOO_LARGE' });
  // 512 two-byte characters are 1024 bytes (fine); 513 are 1026 (too large): the limit counts UTF-8 bytes.
  assert.ok(parseClientRequest(textFrame({ id: 3, op: 'get', key: 'é'.repeat(512) }), 'text').ok);
  assert.deepEqual(failureOf(parseClientRequest(textFrame({ id: 3, op: 'get', key: 'é'.repeat(513) }), 'text')), { id: 3, code: 'TOO_LARGE' });
  const bigValue = new Uint8Array(1024 * 1024 + 1);
  assert.deepEqual(failureOf(parseClientRequest(encodeCbor({ id: 4, op: 'put', key: 'k', value: bigValue }), 'binary')), { id: 4, code: 'TOO_LARGE' });
  const hugeFrame = new Uint8Array(maxClientFrameBytes(DEFAULT_CLIENT_LIMITS, true) + 1);
  assert.deepEqual(failureOf(parseClientRequest(hugeFrame, 'binary')), { id: null, code: 'TOO_LARGE' });
});

test('wrong types, unknown ops and unparseable frames give BAD_REQUEST, with the id when present', () => {
  const cases: [unknown, number | null][] = [
    [{ id: 1, op: 'scan', key: 'k' }, 1],
    [{ id: 2, op: 'put', key: 'k' }, 2],
    [{ id: 3, op: 'get', key: 5 }, 3],
    [{ id: 4, op: 'get' }, 4],
    [{ id: -1, op: 'get', key: 'k' }, null],
    [{ id: 'x', op: 'get', key: 'k' }, null],
    [[1, 2, 3], null],
  ];
  for (const [request, id] of cases) {
    assert.deepEqual(failureOf(parseClientRequest(textFrame(request), 'text')), { id, code: 'BAD_REQUEST' }, JSON.stringify(request));
    assert.deepEqual(failureOf(parseClientRequest(encodeCbor(request), 'binary')), { id, code: 'BAD_REQUEST' }, JSON.stringify(request));
  }
  assert.deepEqual(failureOf(parseClientRequest(utf8('{"id":1,'), 'text')), { id: null, code: 'BAD_REQUEST' });
  assert.deepEqual(failureOf(parseClientRequest(new Uint8Array([0xa1]), 'binary')), { id: null, code: 'BAD_REQUEST' });
  assert.deepEqual(failureOf(parseClientRequest(new Uint8Array([0xc3, 0x28]), 'text')), { id: null, code: 'BAD_REQUEST' }); // not UTF-8
  // Bytes cannot appear in JSON, and a lone surrogate is not Unicode.
  assert.deepEqual(failureOf(parseClientRequest(utf8('{"id":5,"op":"get","key":"\\ud800"}'), 'text')), { id: 5, code: 'BAD_REQUEST' });
});

test('limits are configurable and checked at start-up', () => {
  const limits = resolveClientLimits({ maxKeyBytes: 8, maxValueBytes: 16 });
  assert.deepEqual(failureOf(parseClientRequest(textFrame({ id: 1, op: 'get', key: '123456789' }), 'text', limits)), { id: 1, code: 'TOO_LARGE' });
  assert.ok(parseClientRequest(textFrame({ id: 1, op: 'put', key: '12345678', value: 'x'.repeat(16) }), 'text', limits).ok);
  assert.equal(limits.maxInFlight, 1024);
  assert.ok(Object.isFrozen(limits));
  assert.throws(() => resolveClientLimits({ maxKeyBytes: 0 }), { name: 'AssertionError' });
  assert.throws(() => resolveClientLimits({ maxInFlight: 1.5 }), { name: 'AssertionError' });
});

test('fuzz: random frames never throw, they get TOO_LARGE or BAD_REQUEST', () => {
  const seed = testSeed();
  const random = prng(seed);
  const valid = encodeCbor({ id: 1, op: 'put', key: 'k', value: new Uint8Array(8) });
  try {
    for (let round = 0; round < 3000; round++) {
      const input = Uint8Array.from(valid);
      for (let f = 0; f < 1 + Math.floor(random() * 3); f++) input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
      const framing: ClientFraming = random() < 0.5 ? 'binary' : 'text';
      const parsed = parseClientRequest(input, framing);
      if (!parsed.ok) assert.ok(['TOO_LARGE', 'BAD_REQUEST'].includes(parsed.failure.error.code));
    }
  } catch (error) {
    console.error(`client frame fuzz failed with seed ${seed} (rerun with FORESHARD_SEED=${seed})`);
    throw error;
  }
});
