// Proves a shadow refuses bad replication frames with typed errors and that its state is never
// changed by them: garbage shapes, wrong shard, lower epoch, lsn gaps, oversize keys and values,
// deltas against the wrong base, and a delta that does not decode (caught at apply time, which
// stops applying and keeps the state at the last good lsn). Duplicates are ignored.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { encodeDelta } from '../../src/kernels/index.js';
import { ManualClock, isStoreError, type ReplicationFrame } from '../../src/store/index.js';
import { openReplica, tempDataDir, utf8 } from './helpers.js';

const temp = tempDataDir('frames');
after(() => temp.cleanup());

const frame = (lsn: number, key: string, value: string, epoch = 2): ReplicationFrame => ({ shard: 7, epoch, lsn, ts: 1_700_000_000_000 + lsn, op: 'put', key: utf8(key), value: utf8(value) });

test('bad frames get typed errors and leave the shadow unchanged', async () => {
  const clock = new ManualClock();
  const shadow = await openReplica({ dataDir: `${temp.dir}/a`, shard: 7, role: 'shadow', epoch: 2, clock, applyDelayMs: 50 });
  await shadow.receive(frame(1, 'a', 'one'));
  await shadow.receive(frame(2, 'b', 'two'));
  clock.advance(100);
  const digest = shadow.digest();
  const garbage: [unknown, string][] = [
    [null, 'BAD_FRAME'], ['text', 'BAD_FRAME'], [{}, 'BAD_FRAME'], [Buffer.from([1, 2, 3]), 'BAD_FRAME'],
    [{ ...frame(3, 'c', 'x'), op: 'merge' }, 'BAD_FRAME'],
    [{ ...frame(3, 'c', 'x'), key: 'c' }, 'BAD_FRAME'],
    [{ ...frame(3, 'c', 'x'), lsn: -1 }, 'BAD_FRAME'],
    [{ ...frame(3, 'c', 'x'), lsn: 3.5 }, 'BAD_FRAME'],
    [{ ...frame(3, 'c', 'x'), delta: utf8('d'), baseLsn: 1 }, 'BAD_FRAME'],
    [{ shard: 7, epoch: 2, lsn: 3, ts: 1, op: 'del', key: utf8('a'), value: utf8('x') }, 'BAD_FRAME'],
    [{ ...frame(3, 'c', 'x'), shard: 8 }, 'WRONG_SHARD'],
    [frame(3, 'c', 'x', 1), 'STALE_EPOCH'],
    [frame(5, 'c', 'x'), 'LSN_GAP'],
    [{ ...frame(3, 'c', 'x'), key: Buffer.alloc(1025) }, 'KEY_TOO_LARGE'],
    [{ ...frame(3, 'c', 'x'), value: Buffer.alloc(1024 * 1024 + 1) }, 'VALUE_TOO_LARGE'],
    [{ ...frame(3, 'a', 'x'), value: undefined, delta: utf8('zz'), baseLsn: 2 }, 'DELTA_BASE_MISMATCH'],
    [frame(2, 'b', 'two', 3), 'LOG_DIVERGED'],
  ];
  for (const [input, code] of garbage) {
    await assert.rejects(shadow.receive(input), (e) => isStoreError(e, code as never), `expected ${code} for ${JSON.stringify(input)?.slice(0, 80)}`);
  }
  const gap = await shadow.receive(frame(9, 'z', 'z')).catch((e: unknown) => e);
  assert.ok(isStoreError(gap, 'LSN_GAP') && gap.details['expectedLsn'] === 3);
  assert.deepEqual(await shadow.receive(frame(2, 'b', 'two')), { receivedLsn: 2, duplicate: true });
  assert.equal(shadow.digest(), digest);
  assert.deepEqual([shadow.receivedLsn, shadow.appliedLsn], [2, 2]);
  await shadow.receive(frame(3, 'c', 'three'));
  clock.advance(100);
  assert.deepEqual(shadow.get(utf8('c')), utf8('three'), 'the shadow goes on after refusing bad frames');
  await shadow.close();
});

test('a delta frame is stored as a delta and resolved at apply time; one that does not decode stops apply without harm', async () => {
  const clock = new ManualClock();
  const shadow = await openReplica({ dataDir: `${temp.dir}/b`, shard: 7, role: 'shadow', epoch: 2, clock, applyDelayMs: 50 });
  const base = utf8(JSON.stringify({ name: 'sensor-1', readings: [1, 2, 3, 4, 5, 6, 7, 8], status: 'ok' }));
  const next = utf8(JSON.stringify({ name: 'sensor-1', readings: [1, 2, 3, 4, 5, 6, 7, 9], status: 'ok' }));
  await shadow.receive(frame(1, 'doc', base.toString()));
  const delta = Buffer.from(encodeDelta(base, next));
  assert.ok(delta.length < next.length);
  await shadow.receive({ shard: 7, epoch: 2, lsn: 2, ts: 1, op: 'put', key: utf8('doc'), delta, baseLsn: 1 });
  assert.equal(shadow.rollbackWindow()[1]!.delta!.length, delta.length, 'kept as a delta until applied');
  clock.advance(100);
  assert.deepEqual(shadow.get(utf8('doc')), next);
  const broken = Buffer.from(encodeDelta(next, base));
  broken[broken.length - 1] ^= 0x01;
  await shadow.receive({ shard: 7, epoch: 2, lsn: 3, ts: 1, op: 'put', key: utf8('doc'), delta: broken, baseLsn: 2 });
  clock.advance(100);
  assert.equal(shadow.appliedLsn, 2);
  assert.deepEqual(shadow.get(utf8('doc')), next, 'state unchanged by the bad delta');
  assert.match(shadow.stats().applyFailure ?? '', /delta at lsn 3/);
  await assert.rejects(shadow.receive(frame(4, 'x', 'y')), (e) => isStoreError(e, 'APPLY_FAILED'));
  await assert.rejects(shadow.promote(3, 3), (e) => isStoreError(e, 'APPLY_FAILED'));
  // Replication resyncs: cut the bad frame and receive it again as a literal value.
  const cut = await shadow.truncateAfter(2, 'resync');
  assert.equal(cut.cutCount, 1);
  await shadow.receive(frame(3, 'doc', 'literal'));
  clock.advance(100);
  assert.deepEqual(shadow.get(utf8('doc')), utf8('literal'));
  await shadow.close();
});
