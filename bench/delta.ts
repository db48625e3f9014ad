/**
 * `npm run bench -- delta [--rounds N] [--min-ms M]`: the delta codec (WASM kernel and its TypeScript
 * reference) against the `fossil-delta` package, on a corpus of realistic value updates. Every
 * figure is the median of several rounds measured in the same run; throughput counts target bytes.
 */
import { createDelta, applyDelta } from 'fossil-delta';
import { encodeDelta, decodeDelta } from '../src/kernels/delta.js';
import { encodeDeltaReference, decodeDeltaReference } from '../src/kernels/delta-reference.js';
import { median, secondsPerCall, table } from './lib/stats.js';
import { mulberry32 as seededRandom } from '../src/common/random.js';

/** One base → target update of the corpus. */
export interface DeltaCase {
  name: string;
  base: Uint8Array;
  target: Uint8Array;
}

interface Codec {
  name: string;
  encode(base: Uint8Array, target: Uint8Array): Uint8Array;
  decode(base: Uint8Array, delta: Uint8Array): Uint8Array;
}

const codecs: readonly Codec[] = [
  { name: 'wasm', encode: encodeDelta, decode: decodeDelta },
  { name: 'reference', encode: encodeDeltaReference, decode: decodeDeltaReference },
  { name: 'fossil', encode: (base, target) => createDelta(base, target), decode: (base, delta) => applyDelta(base, delta) },
];

const ROUNDS_DEFAULT = 5;
const MIN_MS_DEFAULT = 100;
const ENCODE_RATIO_TARGET = 3;
const DECODE_RATIO_TARGET = 5;
const ENCODE_TARGET_MIN_BYTES = 4 * 1024;
const DECODE_TARGET_MIN_BYTES = 64 * 1024;
const CORPUS_SEED = 0x5eed;

/** A small seeded PRNG (mulberry32), so the corpus is the same in every run. */
export { seededRandom };

/** A binary value as stores hold them: fixed-size records of counters, floats, flags and random ids. */
function binaryValue(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  const recordBytes = 32;
  for (let offset = 0; offset + recordBytes <= length; offset += recordBytes) {
    const index = offset / recordBytes;
    view.setUint32(offset, index, true);
    view.setFloat64(offset + 4, 1000 + index * 0.25 + random(), true);
    view.setUint16(offset + 12, random() < 0.9 ? 1 : 0, true);
    for (let byte = 14; byte < recordBytes; byte++) bytes[offset + byte] = Math.floor(random() * 256);
  }
  return bytes;
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A few edits: overwritten bytes, one insert and one delete, at random places. */
function editBinary(random: () => number, base: Uint8Array, overwrites: number): Uint8Array {
  let target: Uint8Array = base.slice();
  for (let edit = 0; edit < overwrites; edit++) {
    const at = Math.floor(random() * (target.length - 16));
    target.set(randomBytes(random, 1 + Math.floor(random() * 12)), at);
  }
  const insertAt = Math.floor(random() * target.length);
  target = concat(target.subarray(0, insertAt), randomBytes(random, 8 + Math.floor(random() * 40)), target.subarray(insertAt));
  const deleteAt = Math.floor(random() * (target.length - 64));
  return concat(target.subarray(0, deleteAt), target.subarray(deleteAt + 1 + Math.floor(random() * 48)));
}

interface Order {
  id: string;
  sku: string;
  quantity: number;
  priceCents: number;
  status: string;
}

/** A JSON document like a user profile with its order history. */
function jsonDocument(random: () => number, orders: number): Record<string, unknown> {
  const statuses = ['pending', 'paid', 'shipped', 'delivered', 'returned'];
  const list: Order[] = [];
  for (let index = 0; index < orders; index++) {
    list.push({
      id: `ord-${(100000 + index).toString(36)}-${Math.floor(random() * 1e9).toString(36)}`,
      sku: `SKU-${Math.floor(random() * 90000 + 10000)}`,
      quantity: 1 + Math.floor(random() * 5),
      priceCents: Math.floor(random() * 100000),
      status: statuses[Math.floor(random() * statuses.length)]!,
    });
  }
  return {
    userId: Math.floor(random() * 1e9),
    name: 'Ada Lovelace',
    email: 'ada@example.org',
    preferences: { theme: 'dark', language: 'en-GB', notifications: { email: true, sms: false } },
    loginCount: Math.floor(random() * 5000),
    lastLoginAt: '2026-11-20T21:59:09.000Z',
    orders: list,
  };
}

/** Field edits: a counter, a timestamp, some order statuses, a new order and a removed one. */
function editJson(random: () => number, document: Record<string, unknown>): Record<string, unknown> {
  const edited = structuredClone(document) as Record<string, unknown> & { orders: Order[]; loginCount: number };
  edited.loginCount += 1;
  edited.lastLoginAt = '2026-11-21T08:12:44.517Z';
  for (let edit = 0; edit < 3; edit++) {
    const order = edited.orders[Math.floor(random() * edited.orders.length)]!;
    order.status = order.status === 'delivered' ? 'returned' : 'delivered';
    order.quantity += 1;
  }
  edited.orders.splice(Math.floor(random() * edited.orders.length), 1);
  edited.orders.push({ id: 'ord-new-1', sku: 'SKU-12345', quantity: 2, priceCents: 1999, status: 'pending' });
  return edited;
}

/** Log lines as an append-only value accumulates them. */
function logLines(random: () => number, first: number, count: number): string {
  const levels = ['INFO', 'INFO', 'INFO', 'WARN', 'DEBUG', 'ERROR'];
  let text = '';
  for (let line = first; line < first + count; line++) {
    const ms = 1_700_000_000_000 + line * 137;
    text += `${new Date(ms).toISOString()} ${levels[Math.floor(random() * levels.length)]} shard=${Math.floor(random() * 64)} lsn=${line} `;
    text += `op=put key=user:${Math.floor(random() * 1e6)} bytes=${Math.floor(random() * 4096)} latencyUs=${Math.floor(random() * 900)}\n`;
  }
  return text;
}

/** The benchmark corpus, the same in every run. */
export function deltaCorpus(): DeltaCase[] {
  const random = seededRandom(CORPUS_SEED);
  const encoder = new TextEncoder();
  const cases: DeltaCase[] = [];
  for (const [name, length, overwrites] of [['binary 4 KiB', 4096, 3], ['binary 64 KiB', 65536, 5], ['binary 1 MiB', 1 << 20, 8]] as const) {
    const base = binaryValue(random, length);
    cases.push({ name, base, target: editBinary(random, base, overwrites) });
  }
  for (const [name, orders] of [['json 8 KiB', 60], ['json 128 KiB', 1000]] as const) {
    const document = jsonDocument(random, orders);
    const base = encoder.encode(JSON.stringify(document));
    cases.push({ name, base, target: encoder.encode(JSON.stringify(editJson(random, document))) });
  }
  for (const [name, lines, appended] of [['log append 64 KiB', 500, 20], ['log append 1 MiB', 8000, 50]] as const) {
    const base = logLines(random, 0, lines);
    cases.push({ name, base: encoder.encode(base), target: encoder.encode(base + logLines(random, lines, appended)) });
  }
  return cases;
}

interface Figures {
  encodeMBps: number;
  decodeMBps: number;
  deltaBytes: number;
}

function parseArgs(args: readonly string[]): { rounds: number; minMs: number } {
  let rounds = ROUNDS_DEFAULT;
  let minMs = MIN_MS_DEFAULT;
  for (let index = 0; index < args.length; index++) {
    if (args[index] === '--rounds') rounds = Math.max(1, Number(args[++index]));
    else if (args[index] === '--min-ms') minMs = Math.max(1, Number(args[++index]));
  }
  return { rounds, minMs };
}

/** Measures every codec on one case, rounds interleaved so drift on a shared machine hits all alike. */
function measureCase(testCase: DeltaCase, rounds: number, minMs: number): Map<string, Figures> {
  const deltas = new Map<string, Uint8Array>();
  for (const codec of codecs) {
    const delta = codec.encode(testCase.base, testCase.target);
    // A codec that does not round-trip has no figures worth printing.
    if (Buffer.compare(codec.decode(testCase.base, delta), testCase.target) !== 0) throw new Error(`${codec.name} does not round-trip ${testCase.name}`);
    deltas.set(codec.name, delta);
  }
  const encodeSeconds = new Map<string, number[]>(codecs.map((codec) => [codec.name, []]));
  const decodeSeconds = new Map<string, number[]>(codecs.map((codec) => [codec.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const codec of codecs) {
      const delta = deltas.get(codec.name)!;
      encodeSeconds.get(codec.name)!.push(secondsPerCall(() => codec.encode(testCase.base, testCase.target), minMs));
      decodeSeconds.get(codec.name)!.push(secondsPerCall(() => codec.decode(testCase.base, delta), minMs));
    }
  }
  const megabytes = testCase.target.length / 1e6;
  return new Map(
    codecs.map((codec) => [
      codec.name,
      {
        encodeMBps: megabytes / median(encodeSeconds.get(codec.name)!),
        decodeMBps: megabytes / median(decodeSeconds.get(codec.name)!),
        deltaBytes: deltas.get(codec.name)!.length,
      },
    ]),
  );
}

/** Runs the benchmark and prints its table and whether each target was met. */
export async function run(args: string[]): Promise<void> {
  const { rounds, minMs } = parseArgs(args);
  console.log(`median of ${rounds} rounds of at least ${minMs} ms each; MB/s counts target bytes (1 MB = 10^6 bytes)\n`);
  const rows: (string | number)[][] = [
    ['case', 'target B', 'enc wasm', 'enc ref', 'enc fossil', 'enc x', 'dec wasm', 'dec ref', 'dec fossil', 'dec x', 'delta wasm', 'delta fossil', 'size x'],
  ];
  const misses: string[] = [];
  for (const testCase of deltaCorpus()) {
    const figures = measureCase(testCase, rounds, minMs);
    const wasm = figures.get('wasm')!;
    const reference = figures.get('reference')!;
    const fossil = figures.get('fossil')!;
    const encodeRatio = wasm.encodeMBps / fossil.encodeMBps;
    const decodeRatio = wasm.decodeMBps / fossil.decodeMBps;
    rows.push([
      testCase.name, testCase.target.length,
      wasm.encodeMBps, reference.encodeMBps, fossil.encodeMBps, encodeRatio,
      wasm.decodeMBps, reference.decodeMBps, fossil.decodeMBps, decodeRatio,
      wasm.deltaBytes, fossil.deltaBytes, wasm.deltaBytes / fossil.deltaBytes,
    ]);
    if (testCase.target.length >= ENCODE_TARGET_MIN_BYTES && encodeRatio < ENCODE_RATIO_TARGET) misses.push(`${testCase.name}: encode ${encodeRatio.toFixed(2)}x < ${ENCODE_RATIO_TARGET}x`);
    if (testCase.target.length >= DECODE_TARGET_MIN_BYTES && decodeRatio < DECODE_RATIO_TARGET) misses.push(`${testCase.name}: decode ${decodeRatio.toFixed(2)}x < ${DECODE_RATIO_TARGET}x`);
    if (wasm.deltaBytes > fossil.deltaBytes) misses.push(`${testCase.name}: delta ${wasm.deltaBytes} B > fossil's ${fossil.deltaBytes} B`);
  }
  console.log(table(rows));
  console.log(`\nx = wasm / fossil-delta. Targets: encode >= ${ENCODE_RATIO_TARGET}x on targets of 4 KiB and up, decode >= ${DECODE_RATIO_TARGET}x on 64 KiB and up, delta bytes <= fossil on every case.`);
  console.log(misses.length === 0 ? 'targets: all met' : `targets: NOT met\n  ${misses.join('\n  ')}`);
}
