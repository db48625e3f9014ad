// Proves every MQTT message kind and every data port frame round-trips through our codec, decodes
// with the independent `cbor` package into the same plain values (no tags, byte strings as major
// type 2, timestamps as 8-byte integers), and that bad payloads give the right ProtocolError codes
// and are counted as drops by source while the process goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cbor from 'cbor';
import {
  MAX_PAYLOAD_BYTES,
  MESSAGE_KINDS,
  ProtocolError,
  createDropCounter,
  decodeDataFrame,
  decodeMessage,
  decodeOrDrop,
  dropOnError,
  encodeCbor,
  encodeDataFrame,
  encodeMessage,
  type MessageKind,
} from '../../src/protocol/index.js';
import { DATA_FRAME_SAMPLES, SAMPLES, TS, comparable } from './samples.js';

const tsAsCborInteger = Buffer.concat([Buffer.from([0x1b]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(TS)); return b; })()]);

type SamplesValue = (typeof SAMPLES)[MessageKind][number];

/** Fails when a generic decoder produced anything but plain values (a Tagged item, a Map, a non-Buffer byte array). */
function assertPlain(value: unknown, path = ''): void {
  if (value instanceof cbor.Tagged) assert.fail(`${path} is a tagged item (tag ${value.tag})`);
  if (value instanceof Map) assert.fail(`${path} is a Map: a key was not a string`);
  if (value instanceof Uint8Array) return assert.ok(Buffer.isBuffer(value), `${path} is a typed array, not a byte string`);
  if (Array.isArray(value)) return value.forEach((item, index) => assertPlain(item, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) assertPlain(v, `${path}.${k}`);
}

test('every message kind has samples, and each round-trips through encode and decode', () => {
  for (const kind of MESSAGE_KINDS) {
    assert.ok(SAMPLES[kind].length > 0, `no sample for ${kind}`);
    for (const message of SAMPLES[kind] as SamplesValue[]) {
      const decoded = decodeMessage(kind, encodeMessage(kind, message as never));
      assert.deepEqual(comparable(decoded), comparable(message), kind);
    }
  }
});

test('every message kind decodes with the generic cbor package into the same plain values', () => {
  for (const kind of MESSAGE_KINDS) {
    for (const message of SAMPLES[kind] as SamplesValue[]) {
      const bytes = encodeMessage(kind, message as never);
      const generic = cbor.decodeFirstSync(bytes) as unknown;
      assertPlain(generic, kind);
      assert.deepEqual(comparable(generic), comparable(message), kind);
      if ('ts' in message && message.ts === TS) {
        assert.ok(Buffer.from(bytes).includes(tsAsCborInteger), `${kind}: ts is not an 8-byte CBOR integer`);
      }
    }
  }
});

test('every data port frame round-trips and decodes generically into the same plain values', () => {
  for (const frame of DATA_FRAME_SAMPLES) {
    const bytes = encodeDataFrame(frame);
    assert.deepEqual(comparable(decodeDataFrame(bytes)), comparable(frame), frame.type);
    const generic = cbor.decodeFirstSync(bytes) as unknown;
    assertPlain(generic, frame.type);
    assert.deepEqual(comparable(generic), comparable(frame), frame.type);
  }
});

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${String(error)}`);
    return error.code;
  }
  return 'no error';
};

test('oversize, malformed and off-schema payloads give PAYLOAD_TOO_LARGE, MALFORMED, SCHEMA, FIELD_TOO_LARGE', () => {
  assert.equal(codeOf(() => decodeMessage('metrics', new Uint8Array(MAX_PAYLOAD_BYTES.metrics + 1))), 'PAYLOAD_TOO_LARGE');
  assert.equal(codeOf(() => decodeMessage('score', Buffer.from('a2', 'hex'))), 'MALFORMED');
  assert.equal(codeOf(() => decodeMessage('routing', encodeCbor([1, 2]))), 'SCHEMA');
  assert.equal(codeOf(() => decodeMessage('node-state', encodeCbor({ state: 'online', session: 's' }))), 'SCHEMA');
  assert.equal(codeOf(() => decodeMessage('metrics', encodeCbor({ ts: TS, intervalMs: 1000, series: { cpu: 'high' } }))), 'SCHEMA');
  const tooMany = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`s${i}`, i]));
  assert.equal(codeOf(() => decodeMessage('metrics', encodeCbor({ ts: TS, intervalMs: 1000, series: tooMany }))), 'FIELD_TOO_LARGE');
  // A timestamp beyond 2^53 cannot be a safe number: refused rather than rounded.
  assert.equal(codeOf(() => decodeMessage('metrics', Buffer.from('a3627473' + '1b0020000000000001' + '6a696e74657276616c4d7301' + '66736572696573a0', 'hex'))), 'SCHEMA');
});

test('schema errors name the offending field', () => {
  const [table] = SAMPLES.routing;
  const broken = { ...table!, shards: [{ ...table!.shards[0]!, epoch: -1 }] };
  assert.throws(() => decodeMessage('routing', encodeCbor(broken)), (e: unknown) => e instanceof ProtocolError && e.code === 'SCHEMA' && e.path === 'shards[0].epoch');
  const missingUrl = { ...table!, shards: [{ ...table!.shards[0]!, dataUrls: {} }] };
  assert.throws(() => decodeMessage('routing', encodeCbor(missingUrl)), /no dataUrl for node node-a/);
  const outOfRange = { ...table!, shardCount: 1 };
  assert.throws(() => decodeMessage('routing', encodeCbor(outOfRange)), /not below shardCount/);
});

test('commands: unknown types and wrong args are refused', () => {
  const [command] = SAMPLES.command;
  assert.equal(codeOf(() => decodeMessage('command', encodeCbor({ ...command!, type: 'format-disk' }))), 'SCHEMA');
  assert.equal(codeOf(() => decodeMessage('command', encodeCbor({ ...command!, args: {} }))), 'SCHEMA');
  assert.equal(codeOf(() => decodeMessage('command', encodeCbor({ ...command!, sig: new Uint8Array(64) }))), 'FIELD_TOO_LARGE');
  assert.equal(codeOf(() => decodeMessage('command-result', encodeCbor({ cmdId: 'x', ok: false, ts: TS }))), 'SCHEMA');
  // Every command names the agent session it is for.
  const fence = SAMPLES.command[1]!;
  assert.equal(codeOf(() => decodeMessage('command', encodeCbor({ ...fence, args: {} }))), 'SCHEMA');
  // A result is one whole replica report, or a list of them: half a report is refused.
  assert.equal(codeOf(() => decodeMessage('command-result', encodeCbor({ cmdId: 'x', ok: true, ts: TS, result: { shard: 1, epoch: 2 } }))), 'SCHEMA');
});

test('epochs above 2^32 travel as CBOR integers and come back exact', () => {
  const fence = SAMPLES.command.find((c) => c.type === 'fence')!;
  const decoded = decodeMessage('command', encodeMessage('command', fence));
  assert.equal((decoded as { epoch: number }).epoch, 2 ** 33);
  const routing = decodeMessage('routing', encodeMessage('routing', SAMPLES.routing[0]!));
  const route = routing.shards.find((r) => r.id === 2)!;
  assert.equal(route.epoch, 2 ** 33 + 1);
  assert.deepEqual([route.available, route.extraShadows, route.recovering], [true, ['node-b'], ['node-d']]);
});

test('unknown fields are dropped, so a newer peer may add optional fields', () => {
  const bytes = encodeCbor({ ...SAMPLES.metrics[0]!, addedInV2: 'ignored' });
  assert.equal('addedInV2' in decodeMessage('metrics', bytes), false);
});

test('encoding refuses an off-contract message instead of publishing it', () => {
  assert.equal(codeOf(() => encodeMessage('score', { ...SAMPLES.score[0]!, node: { p: 1.5, top: [] } })), 'SCHEMA');
});

test('data port frames enforce their cross-field rules', () => {
  const key = new Uint8Array([1]);
  const frame = { type: 'frame', shard: 1, epoch: 1, lsn: 5, ts: TS, op: 'put', key } as const;
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor(frame))), 'SCHEMA'); // put without value or delta
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor({ ...frame, value: key, delta: key, baseLsn: 4 }))), 'SCHEMA');
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor({ ...frame, delta: key }))), 'SCHEMA'); // delta without baseLsn
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor({ ...frame, delta: key, baseLsn: 5 }))), 'SCHEMA'); // base not before
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor({ ...frame, op: 'del', value: key }))), 'SCHEMA');
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor({ ...frame, value: new Uint8Array(1024 * 1024 + 1) }))), 'FIELD_TOO_LARGE');
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor({ type: 'request', rid: 1, op: 'get', shard: 1, epoch: 1, key, value: key }))), 'SCHEMA');
  assert.equal(codeOf(() => decodeDataFrame(encodeCbor({ type: 'teleport' }))), 'SCHEMA');
});

test('drops are counted by reason, kind and source, logged sparsely, and the process goes on', () => {
  const logged: string[] = [];
  const counter = createDropCounter({ maxSources: 2, log: (drop) => logged.push(`${drop.source}:${drop.error.code}`) });
  const good = encodeMessage('metrics', SAMPLES.metrics[0]!);
  assert.deepEqual(decodeOrDrop('metrics', good, 'node/a', counter.onDrop)?.intervalMs, 1000);
  for (let i = 0; i < 25; i++) assert.equal(decodeOrDrop('metrics', Buffer.from('ff', 'hex'), 'node/a', counter.onDrop), undefined);
  assert.equal(decodeOrDrop('score', encodeCbor({}), 'node/b', counter.onDrop), undefined);
  assert.equal(decodeOrDrop('score', encodeCbor({}), 'node/c', counter.onDrop), undefined);
  assert.equal(dropOnError('data-frame', 'peer 10.0.0.9', counter.onDrop, () => decodeDataFrame(new Uint8Array(0))), undefined);
  const counts = counter.counts();
  assert.equal(counts.total, 28);
  assert.deepEqual(counts.byReason, { MALFORMED: 26, SCHEMA: 2 });
  assert.deepEqual(counts.byKind, { metrics: 25, score: 2, 'data-frame': 1 });
  assert.deepEqual(counts.bySource, { 'node/a': 25, 'node/b': 1, '(other)': 2 });
  assert.equal(logged.filter((line) => line === 'node/a:MALFORMED').length, 10);
  // A bug (not a ProtocolError) still propagates.
  assert.throws(() => dropOnError('x', 'y', counter.onDrop, () => { throw new TypeError('bug'); }), TypeError);
});
