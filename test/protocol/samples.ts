// Shared fixtures for the protocol tests: one realistic sample of every message kind and data port
// frame, a seeded PRNG, and a normaliser that makes byte strings comparable across decoders.
import type { Command, DataFrame, MessageKind, MessageTypes } from '../../src/protocol/index.js';
import { mulberry32 as prng } from '../../src/common/random.js';

/** A fixed millisecond timestamp above 2^32, so it must travel as an 8-byte CBOR integer. */
export const TS = 1_700_000_000_123;

/** mulberry32: a small seeded PRNG, so a failing randomized test can be replayed from its seed. */
export { prng };

/** The seed of a randomized test: FORESHARD_SEED when set, else a fresh one (printed on failure). */
export function testSeed(): number {
  const fromEnv = process.env.FORESHARD_SEED;
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 32);
}

const entry = { series: 'disk.awaitMs', value: 12.5, forecast: 40.25, lower: 20, upper: 61.5, threshold: 50, share: 0.6 };

const sampleCommand: Command = {
  cmdId: 'cmd-0001',
  type: 'promote',
  shard: 7,
  epoch: 4,
  args: { session: 'a1b2c3d4', throughLsn: 5_000_000_000, throughEpoch: 2 ** 33 + 5, create: false },
  ts: TS,
  sig: new Uint8Array(32).fill(7),
};

/** One valid payload of every MQTT message kind. */
export const SAMPLES: { [K in MessageKind]: MessageTypes[K][] } = {
  'node-state': [
    { state: 'online', session: 's-1a2b', ts: TS, version: '0.1.0', profile: 'nvme-storage-node', dataUrl: 'ws://10.0.0.5:7301' },
    { state: 'offline', session: 's-1a2b' },
  ],
  'coordinator-state': [{ state: 'online', session: 'c-9', ts: TS, version: '0.1.0', automation: 'paused' }, { state: 'offline', session: 'c-9', ts: TS }],
  metrics: [{ ts: TS, intervalMs: 1000, series: { 'cpu.utilisation': 0.42, 'net.rxBytes': 9_000_000_000, 'store.latencyMsP99': 3.75 } }],
  score: [
    {
      ts: TS,
      horizonS: 60,
      node: { p: 0.12, top: [entry] },
      shards: { '0': { p: 0.85, top: [{ ...entry, direction: 'above', breachProbability: 0.9, anomalyLikelihood: 0.3 }] }, '17': { p: 0, top: [] } },
    },
  ],
  command: [
    sampleCommand,
    { cmdId: 'cmd-0002', type: 'fence', shard: 0, epoch: 2 ** 33, args: { session: 's-1' }, ts: TS, sig: new Uint8Array(32) },
    { cmdId: 'cmd-0003', type: 'follow', shard: 2, epoch: 5, args: { session: 's-1', primary: 'node-b', dataUrl: 'wss://b.example:7301', applyDelayMs: 250 }, ts: TS, sig: new Uint8Array(32) },
    { cmdId: 'cmd-0004', type: 'chaos', args: { session: 's-1', fault: 'disk-latency', durationMs: 30_000, intensity: 0.5 }, ts: TS, sig: new Uint8Array(32) },
    { cmdId: 'cmd-0005', type: 'drop', shard: 2, epoch: 6, args: { session: 's-1' }, ts: TS, sig: new Uint8Array(32) },
    { cmdId: 'cmd-0006', type: 'report', args: { session: 's-1' }, ts: TS, sig: new Uint8Array(32) },
    { cmdId: 'cmd-0007', type: 'report', shard: 3, epoch: 9, args: { session: 's-1' }, ts: TS, sig: new Uint8Array(32) },
  ],
  'command-result': [
    { cmdId: 'cmd-0002', ok: true, ts: TS, result: { shard: 0, role: 'recovering', epoch: 2 ** 33, receivedLsn: 4_999_999_999, appliedLsn: 4_999_999_000, lastEpoch: 3 } },
    { cmdId: 'cmd-0003', ok: false, ts: TS, error: { code: 'STALE_EPOCH', message: 'epoch 5 < 6', epoch: 6 } },
    { cmdId: 'cmd-0005', ok: true, ts: TS, result: {} },
    { cmdId: 'cmd-0006', ok: true, ts: TS, result: { replicas: [{ shard: 1, role: 'shadow', epoch: 4, receivedLsn: 10, appliedLsn: 8, lastEpoch: 4 }, { shard: 2, role: 'primary', epoch: 6, receivedLsn: 0, appliedLsn: 0, lastEpoch: 0 }] } },
  ],
  routing: [
    {
      version: 42,
      ts: TS,
      shardCount: 4,
      shards: [
        { id: 0, epoch: 3, primary: 'node-a', shadows: ['node-b'], writes: 'open', dataUrls: { 'node-a': 'ws://a:7301', 'node-b': 'ws://b:7301' } },
        { id: 1, epoch: 1, primary: 'node-b', shadows: ['node-a', 'node-c'], writes: 'paused', dataUrls: { 'node-a': 'ws://a:7301', 'node-b': 'ws://b:7301', 'node-c': 'ws://c:7301' } },
        { id: 2, epoch: 2 ** 33 + 1, primary: 'node-c', shadows: ['node-a', 'node-b'], writes: 'open', dataUrls: { 'node-a': 'ws://a:7301', 'node-b': 'ws://b:7301', 'node-c': 'ws://c:7301' }, available: true, extraShadows: ['node-b'], recovering: ['node-d'] },
        { id: 3, epoch: 9, primary: null, shadows: [], writes: 'unavailable', dataUrls: {}, available: false },
      ],
    },
  ],
  incident: [
    {
      id: 'inc-20231114-0001',
      kind: 'planned-switch',
      outcome: 'completed',
      ts: TS,
      shard: 0,
      fromNode: 'node-a',
      toNode: 'node-b',
      fromEpoch: 3,
      toEpoch: 4,
      lastLsn: 1234,
      rootCause: { summary: 'disk await forecast to cross 50 ms within 60 s', score: 0.87, top: [entry] },
      scores: [{ ts: TS - 2000, p: 0.81 }, { ts: TS - 1000, p: 0.86 }],
      timeline: [{ ts: TS, event: 'paused' }, { ts: TS + 5, event: 'fenced', detail: 'lastLsn 1234' }],
      closedTs: TS + 40,
      result: 'switched',
      nodeFailedWithinHorizon: false,
    },
  ],
  'operator-request': [
    { reqId: 'req-1', type: 'switch', shard: 3, toNode: 'node-b', ts: TS, sig: new Uint8Array(32).fill(1) },
    { reqId: 'req-2', type: 'pause-automation', ts: TS, sig: new Uint8Array(32) },
    { reqId: 'req-3', type: 'resume-automation', ts: TS, sig: new Uint8Array(32) },
  ],
  'operator-result': [
    { reqId: 'req-1', ok: true, ts: TS, message: 'switch of shard 3 started', incidentId: 'inc-c2-7' },
    { reqId: 'req-2', ok: false, ts: TS, message: 'shard 3 is switching', code: 'SHARD_BUSY', automationPaused: true },
  ],
};

const key = new TextEncoder().encode('user:42');
const value = new Uint8Array([0, 1, 2, 250, 255]);

/** One valid data port frame of every type. */
export const DATA_FRAME_SAMPLES: DataFrame[] = [
  { type: 'hello', version: 1, role: 'gateway', node: 'gw-1', token: 'fst1.abc.def' },
  { type: 'welcome', version: 1, node: 'node-a' },
  { type: 'request', rid: 1, op: 'put', shard: 3, epoch: 2, key, value },
  { type: 'request', rid: 2, op: 'get', shard: 3, epoch: 2, key },
  { type: 'response', rid: 1, ok: true, epoch: 2, lsn: 8_000_000_000 },
  { type: 'response', rid: 2, ok: true, epoch: 2, value: null },
  { type: 'response', rid: 3, ok: false, error: { code: 'MOVED', message: 'not primary', epoch: 3, primary: 'node-b' } },
  { type: 'frame', shard: 3, epoch: 2, lsn: 10, ts: TS, op: 'put', key, value },
  { type: 'frame', shard: 3, epoch: 2, lsn: 11, ts: TS, op: 'put', key, delta: new Uint8Array([9, 9]), baseLsn: 10 },
  { type: 'frame', shard: 3, epoch: 2, lsn: 12, ts: TS, op: 'del', key },
  { type: 'ack', shard: 3, epoch: 2, receivedLsn: 12, appliedLsn: 9 },
  { type: 'resync', shard: 3, epoch: 2, fromLsn: 13, reason: 'gap' },
  { type: 'snapshot', shard: 3, epoch: 2, lsn: 12, seq: 0, entries: [{ key, value }], done: true },
  { type: 'error', code: 'UNAUTHORIZED', message: 'bad token' },
];

/** Replaces every byte string with `{ hex }`, so Buffers and Uint8Arrays compare by content. */
export function comparable(value: unknown): unknown {
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(comparable);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]));
  return value;
}
