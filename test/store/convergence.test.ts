// Proves that a primary and two shadows fed the same frames converge: 100k writes of mixed sizes
// (puts, deletes, and puts sent as deltas, as replication does when a delta is smaller) go through
// the primary; the frames are delivered in-process to both shadows while a simulated clock moves
// 10 ms per round. At every round the shadows agree with each other; at the end the rollback
// window holds exactly the frames received after now - applyDelayMs, and after the delay all three
// replicas hold identical state. Real files; seeded sizes and keys (seed printed on failure).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { encodeDelta } from '../../src/kernels/index.js';
import { ManualClock, type Replica, type ReplicationFrame } from '../../src/store/index.js';
import { copyFrame, openReplica, seededRandom, tempDataDir, testSeed } from './helpers.js';

const WRITES = 100_000;
const WRITES_PER_ROUND = 1000;
const ROUND_MS = 10;
const APPLY_DELAY_MS = 200;
const KEY_SPACE = 20_000;
const temp = tempDataDir('convergence');
after(() => temp.cleanup());

/** Mostly small values, some medium, a few large: sizes in bytes. */
function valueSize(random: () => number): number {
  const r = random();
  if (r < 0.0005) return 65_536 + Math.floor(random() * 65_536);
  if (r < 0.01) return 1024 + Math.floor(random() * 7168);
  return Math.floor(random() * 256);
}

/** A new value that often shares most bytes with the old one, so deltas pay off. */
function nextValue(random: () => number, previous: Buffer | undefined): Buffer {
  if (previous && previous.length > 32 && random() < 0.5) {
    const value = Buffer.from(previous);
    value[Math.floor(random() * value.length)] = Math.floor(random() * 256);
    return value;
  }
  const value = Buffer.alloc(valueSize(random));
  for (let i = 0; i < value.length; i++) value[i] = Math.floor(random() * 256);
  return value;
}

/** What replication sends for a frame: a delta when one is smaller than the value. */
function wireFrame(frame: ReplicationFrame, previous: { lsn: number; value: Buffer } | undefined): ReplicationFrame {
  const copy = copyFrame(frame);
  if (frame.op !== 'put' || !previous || previous.value.length < 32) return copy;
  const delta = encodeDelta(previous.value, frame.value!);
  if (delta.length >= frame.value!.length) return copy;
  const { value: _value, ...rest } = copy;
  return { ...rest, delta: Uint8Array.from(delta), baseLsn: previous.lsn };
}

test(`a primary and two shadows converge after ${WRITES} writes, and the rollback window is exact`, async () => {
  const seed = testSeed();
  const random = seededRandom(seed);
  const clock = new ManualClock();
  const common = { shard: 5, clock, fsyncPolicy: 'batch' as const, snapshotEveryRecords: 30_000, segmentMaxBytes: 4 * 1024 * 1024 };
  const primary = await openReplica({ ...common, dataDir: `${temp.dir}/p`, role: 'primary' });
  const shadows: Replica[] = [
    await openReplica({ ...common, dataDir: `${temp.dir}/s1`, role: 'shadow', applyDelayMs: APPLY_DELAY_MS }),
    await openReplica({ ...common, dataDir: `${temp.dir}/s2`, role: 'shadow', applyDelayMs: APPLY_DELAY_MS }),
  ];
  const outbox: ReplicationFrame[] = [];
  const arrivalByLsn: number[] = [];
  let deltas = 0;
  primary.onFrame((frame, previous) => {
    const wire = wireFrame(frame, previous);
    if (wire.delta) deltas++;
    outbox.push(wire);
  });
  try {
    const latest = new Map<number, Buffer>();
    for (let written = 0; written < WRITES; written += WRITES_PER_ROUND) {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < WRITES_PER_ROUND; i++) {
        const keyIndex = Math.floor(random() * KEY_SPACE);
        const key = Buffer.from(`key-${keyIndex}`);
        if (random() < 0.05) {
          writes.push(primary.del(key));
          latest.delete(keyIndex);
        } else {
          const value = nextValue(random, latest.get(keyIndex));
          latest.set(keyIndex, value);
          writes.push(primary.put(key, value));
        }
      }
      await Promise.all(writes);
      const frames = outbox.splice(0);
      for (const frame of frames) arrivalByLsn[frame.lsn] = clock.now();
      await Promise.all(shadows.flatMap((shadow) => frames.map((frame) => shadow.receive(frame))));
      clock.advance(ROUND_MS);
      assert.equal(shadows[0]!.appliedLsn, shadows[1]!.appliedLsn);
      if ((written / WRITES_PER_ROUND) % 25 === 0) assert.equal(shadows[0]!.digest(), shadows[1]!.digest(), `shadows disagree at lsn ${shadows[0]!.appliedLsn}`);
    }
    assert.ok(deltas > 1000, `only ${deltas} frames went as deltas`);
    const now = clock.now();
    const expectedWindow = arrivalByLsn.flatMap((arrival, lsn) => (arrival > now - APPLY_DELAY_MS ? [lsn] : []));
    assert.ok(expectedWindow.length > 0 && expectedWindow.length < WRITES);
    for (const shadow of shadows) {
      assert.deepEqual(shadow.rollbackWindow().map((f) => f.lsn), expectedWindow, 'rollback window = frames received after now - applyDelayMs');
      assert.equal(shadow.appliedLsn, expectedWindow[0]! - 1);
      assert.equal(shadow.receivedLsn, WRITES);
    }
    clock.advance(APPLY_DELAY_MS);
    for (const shadow of shadows) {
      assert.equal(shadow.appliedLsn, WRITES);
      assert.equal(shadow.rollbackWindow().length, 0);
      assert.equal(shadow.digest(), primary.digest(), 'shadow state equals primary state');
    }
    for (const [keyIndex, value] of latest) assert.deepEqual(shadows[1]!.get(Buffer.from(`key-${keyIndex}`)), value);
  } catch (error) {
    process.stderr.write(`convergence test failed with seed ${seed} (rerun with FORESHARD_TEST_SEED=${seed})\n`);
    throw error;
  } finally {
    await Promise.all([primary.close(), ...shadows.map((s) => s.close())]);
  }
});
