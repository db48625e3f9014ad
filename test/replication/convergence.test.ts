// Proves that a primary and two shadows over real loopback sockets converge: 100k writes of mixed
// sizes (small values, large values, JSON documents updated in place, deletes) go through the data
// port; every write is acknowledged only after a shadow received it; under a manual apply clock the
// rollback window holds exactly the frames received within the last applyDelayMs, and once the
// delay passes both shadows hold the primary's exact state (digest). JSON updates travel as deltas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/store/index.js';
import { connectClient, seededRandom, startHost, testSeed, utf8, waitFor, type TestHost } from './helpers.js';

const APPLY_DELAY_MS = 1_000;
const PHASE_ONE_WRITES = 60_000;
const PHASE_TWO_WRITES = 40_000;
const IN_FLIGHT = 2_000;

function valueFor(random: () => number, i: number, docs: Map<string, { n: number; tags: string[] }>): { key: string; value?: Buffer } {
  const pick = random();
  if (pick < 0.25) {
    // JSON documents updated in place: a field changes, the rest stays; the delta case.
    const key = `doc:${Math.floor(random() * 200)}`;
    const doc = docs.get(key) ?? { n: 0, tags: Array.from({ length: 20 }, (_, t) => `tag-${t}-${key}`) };
    doc.n = i;
    docs.set(key, doc);
    return { key, value: utf8(JSON.stringify({ id: key, counter: doc.n, tags: doc.tags, note: 'a document with enough unchanged text to delta well' })) };
  }
  if (pick < 0.27) return { key: `big:${Math.floor(random() * 20)}`, value: Buffer.alloc(16_384 + Math.floor(random() * 32_768), i % 251) };
  if (pick < 0.30) return { key: `small:${Math.floor(random() * 5_000)}` }; // delete
  return { key: `small:${Math.floor(random() * 5_000)}`, value: Buffer.alloc(1 + Math.floor(random() * 120), i % 253) };
}

/** Writes `count` operations through the data port, `IN_FLIGHT` at a time, asserting each is acknowledged. */
async function writeMany(client: Awaited<ReturnType<typeof connectClient>>, count: number, start: number, random: () => number, docs: Map<string, { n: number; tags: string[] }>): Promise<void> {
  for (let first = start; first < start + count; first += IN_FLIGHT) {
    const requests = [];
    for (let i = first; i < Math.min(first + IN_FLIGHT, start + count); i++) {
      const { key, value } = valueFor(random, i, docs);
      requests.push(client.request(value ? { op: 'put', shard: 0, epoch: 1, key: utf8(key), value } : { op: 'del', shard: 0, epoch: 1, key: utf8(key) }));
    }
    for (const response of await Promise.all(requests)) assert.ok(response.ok, `a write failed: ${JSON.stringify(response)}`);
  }
}

test('a primary and two shadows converge after 100k writes; the rollback window is exact', async (t) => {
  const seed = testSeed();
  const random = seededRandom(seed);
  const clock = new ManualClock(Date.now());
  const hosts: TestHost[] = [];
  t.after(async () => {
    for (const h of hosts) await h.stop();
  });
  try {
    const primary = await startHost('p1', { clock, applyDelayMs: APPLY_DELAY_MS });
    const shadowA = await startHost('s1', { clock, applyDelayMs: APPLY_DELAY_MS });
    const shadowB = await startHost('s2', { clock, applyDelayMs: APPLY_DELAY_MS });
    hosts.push(primary, shadowA, shadowB);
    await primary.host.openShard(0, 'primary', 1);
    for (const s of [shadowA, shadowB]) await s.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
    const client = await connectClient(primary.host);
    t.after(() => client.close());
    const docs = new Map<string, { n: number; tags: string[] }>();

    await writeMany(client, PHASE_ONE_WRITES, 0, random, docs);
    clock.advance(APPLY_DELAY_MS / 2);
    await writeMany(client, PHASE_TWO_WRITES, PHASE_ONE_WRITES, random, docs);
    const lastLsn = primary.host.replica(0)!.lastLsn;
    assert.equal(lastLsn, PHASE_ONE_WRITES + PHASE_TWO_WRITES);
    for (const s of [shadowA, shadowB]) await waitFor('shadow received all', () => s.host.replica(0)!.receivedLsn === lastLsn);

    // Phase one is older than the delay now, phase two is not: the window holds exactly phase two.
    clock.advance(APPLY_DELAY_MS / 2);
    for (const s of [shadowA, shadowB]) {
      const window = s.host.replica(0)!.rollbackWindow();
      assert.equal(window.length, PHASE_TWO_WRITES);
      assert.deepEqual([window[0]!.lsn, window.at(-1)!.lsn], [PHASE_ONE_WRITES + 1, lastLsn]);
      assert.equal(s.host.replica(0)!.appliedLsn, PHASE_ONE_WRITES);
    }

    clock.advance(APPLY_DELAY_MS);
    const digest = primary.host.replica(0)!.digest();
    for (const s of [shadowA, shadowB]) {
      assert.equal(s.host.replica(0)!.appliedLsn, lastLsn);
      assert.equal(s.host.replica(0)!.digest(), digest);
    }
    const stats = primary.host.stats();
    assert.ok(stats.deltaFramesSent > 0, 'JSON document updates travel as deltas');
    assert.ok(stats.frameBytesSent < stats.frameBytesLiteralEquivalent, 'deltas make the stream smaller');
    assert.equal(stats.writesUnavailable + stats.writesTimedOut, 0);
  } catch (error) {
    console.error(`seed ${seed}`);
    throw error;
  }
});
