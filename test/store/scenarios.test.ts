// Proves the replica's role changes behave as DESIGN.md §2-3 says, with exact contents: promotion
// applies the whole tail at once, fencing turns writes into MOVED, a rejoining former primary cuts
// its extra records into a conflict file and follows the new primary, rollback to T keeps exactly
// the writes up to T. Shadows run in simulated time (ManualClock) over real files in a temp dir.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { ManualClock, Replica, isStoreError, readConflictRecords, listConflicts, type ReplicationFrame } from '../../src/store/index.js';
import { copyFrame, openReplica, tempDataDir, utf8 } from './helpers.js';

const temp = tempDataDir('scenarios');
after(() => temp.cleanup());
let nextDir = 0;
const dataDir = (): string => `${temp.dir}/node${nextDir++}`;

/** A primary and one shadow wired in-process; frames pass through `deliver` so tests can hold them. */
async function pair(applyDelayMs = 1000) {
  const clock = new ManualClock();
  const primary = await openReplica({ dataDir: dataDir(), shard: 3, role: 'primary', clock, fsyncPolicy: 'batch' });
  const shadow = await openReplica({ dataDir: dataDir(), shard: 3, role: 'shadow', clock, applyDelayMs, fsyncPolicy: 'batch' });
  const held: ReplicationFrame[] = [];
  primary.onFrame((frame) => held.push(copyFrame(frame)));
  const deliver = async (): Promise<void> => {
    for (const frame of held.splice(0)) await shadow.receive(frame);
  };
  return { clock, primary, shadow, deliver };
}

test('a primary acknowledges durable writes, reads them back, and recovers them on reopen', async () => {
  const dir = dataDir();
  const primary = await openReplica({ dataDir: dir, shard: 0, fsyncPolicy: 'always' });
  const first = await primary.put(utf8('a'), utf8('1'));
  await primary.put(utf8('b'), utf8('2'));
  await primary.del(utf8('a'));
  assert.equal(first.lsn, 1);
  assert.equal(primary.get(utf8('a')), undefined);
  assert.deepEqual(primary.get(utf8('b')), utf8('2'));
  await primary.close();
  const reopened = await openReplica({ dataDir: dir, shard: 0 });
  assert.equal(reopened.appliedLsn, 3);
  assert.deepEqual(reopened.get(utf8('b')), utf8('2'));
  assert.equal(reopened.get(utf8('a')), undefined);
  assert.equal(reopened.openReport.log.cut, undefined);
  await reopened.close();
});

test('promotion applies the whole received tail at once and opens writes at the new epoch', async () => {
  const { clock, primary, shadow, deliver } = await pair(5000);
  for (let i = 0; i < 10; i++) await primary.put(utf8(`k${i}`), utf8(`v${i}`));
  await deliver();
  clock.advance(100);
  assert.equal(shadow.receivedLsn, 10);
  assert.equal(shadow.appliedLsn, 0, 'still inside the delay');
  await assert.rejects(shadow.promote(1, 10), (e) => isStoreError(e, 'STALE_EPOCH'));
  await assert.rejects(shadow.promote(2, 11), (e) => isStoreError(e, 'NOT_CAUGHT_UP'));
  const fenced = await primary.fence(1);
  assert.deepEqual(fenced, { epoch: 1, lastLsn: 10 });
  const promoted = await shadow.promote(2, fenced.lastLsn);
  assert.deepEqual(promoted, { epoch: 2, lastLsn: 10 });
  assert.equal(shadow.appliedLsn, 10);
  assert.deepEqual(shadow.get(utf8('k9')), utf8('v9'));
  const write = await shadow.put(utf8('new'), utf8('x'));
  assert.deepEqual({ lsn: write.lsn, epoch: write.epoch }, { lsn: 11, epoch: 2 });
  assert.equal(shadow.digest() === primary.digest(), false, 'the new primary has the extra write');
  await primary.close();
  await shadow.close();
});

test('a fenced primary answers writes with MOVED and the current epoch, also after a restart', async () => {
  const dir = dataDir();
  const primary = await openReplica({ dataDir: dir, shard: 1 });
  await primary.put(utf8('k'), utf8('v'));
  await assert.rejects(primary.fence(0), (e) => isStoreError(e, 'STALE_EPOCH') || e instanceof Error);
  const pending = primary.put(utf8('in-flight'), utf8('w'));
  const fenced = await primary.fence(4);
  assert.equal(fenced.lastLsn, 2);
  assert.equal((await pending).lsn, 2, 'a write in flight at the fence still completes');
  await assert.rejects(primary.put(utf8('k'), utf8('late')), (e) => isStoreError(e, 'MOVED') && e.details['epoch'] === 4);
  await primary.close();
  const reopened = await openReplica({ dataDir: dir, shard: 1 });
  assert.equal(reopened.role, 'fenced');
  await assert.rejects(reopened.del(utf8('k')), (e) => isStoreError(e, 'MOVED') && e.details['epoch'] === 4);
  await reopened.close();
});

test('a former primary that rejoins cuts its extra records into a conflict file and follows the new primary', async () => {
  const { primary, shadow, deliver } = await pair(1000);
  await primary.put(utf8('a'), utf8('1'));
  await primary.put(utf8('b'), utf8('2'));
  await deliver();
  // The shadow never receives these two: the primary is cut off, then the shadow is promoted.
  await primary.put(utf8('a'), utf8('lost-1'));
  await primary.put(utf8('c'), utf8('lost-2'));
  await primary.fence(1);
  await shadow.promote(2, 2);
  const successorFrames: ReplicationFrame[] = [];
  shadow.onFrame((frame) => successorFrames.push(copyFrame(frame)));
  await shadow.put(utf8('d'), utf8('4'));
  const cut = await primary.truncateAfter(shadow.receivedLsn - 1, 'rejoin');
  assert.deepEqual({ cutCount: cut.cutCount, fromLsn: cut.fromLsn, toLsn: cut.toLsn }, { cutCount: 2, fromLsn: 3, toLsn: 4 });
  const { summary, records } = readConflictRecords(cut.path!);
  assert.deepEqual({ shard: summary.shard, epoch: summary.epoch, reason: summary.reason, count: summary.count }, { shard: 3, epoch: 1, reason: 'rejoin', count: 2 });
  assert.deepEqual(records.map((r) => [r.lsn, r.key.toString(), r.value?.toString()]), [[3, 'a', 'lost-1'], [4, 'c', 'lost-2']]);
  assert.match(cut.path!, /conflicts\/\d{8}T\d{9}Z-epoch1\.json$/);
  assert.deepEqual(primary.get(utf8('a')), utf8('1'), 'state rebuilt without the cut records');
  assert.equal(primary.get(utf8('c')), undefined);
  await primary.follow(2);
  for (const frame of successorFrames) await primary.receive(frame);
  await primary.promote(3, 3);
  assert.equal(primary.digest(), shadow.digest(), 'the rejoined replica converged on the new primary');
  assert.equal(listConflicts(`${temp.dir}/node${nextDir - 2}`).conflicts.length, 1);
  await primary.close();
  await shadow.close();
});

test('rollback to T applies the writes up to T, discards the later unapplied tail to a file, and opens writes', async () => {
  const { clock, primary, shadow, deliver } = await pair(1000);
  await primary.put(utf8('x'), utf8('0'));
  await deliver();
  clock.advance(2000);
  assert.equal(shadow.appliedLsn, 1);
  const times: number[] = [];
  for (let i = 1; i <= 6; i++) {
    clock.advance(10);
    times.push((await primary.put(utf8('x'), utf8(String(i)))).ts);
  }
  await deliver();
  clock.advance(100);
  assert.equal(shadow.rollbackWindow().length, 6);
  await assert.rejects(shadow.rollbackTo(times[0]! - 5000, 2), (e) => isStoreError(e, 'ROLLBACK_OUTSIDE_WINDOW'));
  const result = await shadow.rollbackTo(times[2]!, 2);
  assert.equal(result.lastLsn, 4);
  assert.equal(result.discarded, 3);
  assert.deepEqual(shadow.get(utf8('x')), utf8('3'));
  const saved = JSON.parse(readFileSync(result.path!, 'utf8')) as { reason: string; fromLsn: number; toLsn: number; records: { value: string }[] };
  assert.deepEqual([saved.reason, saved.fromLsn, saved.toLsn], ['rollback', 5, 7]);
  assert.deepEqual(saved.records.map((r) => Buffer.from(r.value, 'base64').toString()), ['4', '5', '6']);
  assert.equal((await shadow.put(utf8('y'), utf8('after'))).lsn, 5);
  await shadow.close();
  await primary.close();
  const reopened = await Replica.open({ dataDir: `${temp.dir}/node${nextDir - 1}`, shard: 3, logger: () => {} });
  assert.deepEqual([reopened.role, reopened.epoch, reopened.appliedLsn], ['primary', 2, 5]);
  assert.deepEqual(reopened.get(utf8('x')), utf8('3'));
  await reopened.close();
});

test('the store enforces the key, value and shard memory limits with typed errors', async () => {
  const primary = await openReplica({ dataDir: dataDir(), shard: 0, memoryLimitBytes: 64 * 1024 });
  await assert.rejects(primary.put(Buffer.alloc(1025), utf8('v')), (e) => isStoreError(e, 'KEY_TOO_LARGE'));
  await assert.rejects(primary.put(utf8('k'), Buffer.alloc(1024 * 1024 + 1)), (e) => isStoreError(e, 'VALUE_TOO_LARGE'));
  await primary.put(Buffer.alloc(1024, 1), Buffer.alloc(1024 * 1024 - 1024 * 1024 + 100));
  let accepted = 0;
  let refused: unknown;
  for (let i = 0; i < 100 && refused === undefined; i++) {
    try {
      await primary.put(utf8(`key-${i}`), Buffer.alloc(4096));
      accepted++;
    } catch (error) {
      refused = error;
    }
  }
  assert.ok(isStoreError(refused, 'SHARD_MEMORY_LIMIT'), `expected SHARD_MEMORY_LIMIT, got ${String(refused)}`);
  assert.ok(accepted >= 10 && accepted < 16, `accepted ${accepted} 4 KiB values under a 64 KiB limit`);
  assert.ok(primary.stats().memoryBytes <= 64 * 1024);
  await primary.del(utf8('key-0'));
  await primary.put(utf8('key-again'), Buffer.alloc(1024));
  await primary.close();
});

test('sealed segments move to the compressed cold tier and replay and restore read both tiers', async () => {
  const dir = dataDir();
  const clock = new ManualClock();
  const primary = await openReplica({ dataDir: dir, shard: 0, clock, segmentMaxBytes: 4096, coldAfterMs: 60_000 });
  for (let i = 0; i < 200; i++) await primary.put(utf8(`k${i % 50}`), Buffer.alloc(100, i));
  clock.advance(120_000);
  await primary.put(utf8('fresh'), utf8('x'));
  const moved = await primary.moveColdSegments();
  const { hot, cold } = primary.describeLog();
  assert.ok(moved > 3 && cold.length === moved, `moved ${moved}`);
  assert.ok(cold.every((c) => c.path.endsWith('.log.gz')));
  assert.equal(hot.at(-1)!.lastLsn, 201);
  const digest = primary.digest();
  assert.deepEqual(primary.readFrom(1, 3).map((f) => f.lsn), [1, 2, 3], 'catch-up reads from the cold tier');
  await primary.close();
  const reopened = await openReplica({ dataDir: dir, shard: 0, clock });
  assert.equal(reopened.digest(), digest);
  await reopened.close();
});
