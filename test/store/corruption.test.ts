// Proves recovery treats damaged logs as docs/store-format.md says: a truncated (torn) tail is cut
// at the last good record and reported; one flipped byte in the middle of a segment, with good
// records after it, makes open refuse with LOG_CORRUPT, and open with `repair` cuts there and
// reports the loss. Nothing is silently accepted. Real files; the damage is done with fs calls.
import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { isStoreError, verifyShardLog } from '../../src/store/index.js';
import { openReplica, recordingLogger, tempDataDir, utf8 } from './helpers.js';

const temp = tempDataDir('corruption');
after(() => temp.cleanup());

/** A closed replica with `count` writes of key k<i> = v<i>, in one segment; returns its data dir and segment path. */
async function writtenReplica(name: string, count: number): Promise<{ dataDir: string; segment: string }> {
  const dataDir = `${temp.dir}/${name}`;
  const replica = await openReplica({ dataDir, shard: 0, fsyncPolicy: 'always' });
  for (let i = 1; i <= count; i++) await replica.put(utf8(`k${i}`), utf8(`value-${i}`.padEnd(40, '.')));
  const segment = replica.describeLog().hot[0]!.path;
  await replica.close();
  return { dataDir, segment };
}

test('a torn tail is cut at the last good record and reported', async () => {
  const { dataDir, segment } = await writtenReplica('torn', 100);
  const size = statSync(segment).size;
  truncateSync(segment, size - 30);
  const { events, logger } = recordingLogger();
  const replica = await openReplica({ dataDir, shard: 0, logger });
  assert.equal(replica.appliedLsn, 99);
  assert.equal(replica.get(utf8('k100')), undefined);
  assert.deepEqual(replica.get(utf8('k99')), utf8('value-99'.padEnd(40, '.')));
  const cut = replica.openReport.log.cut!;
  assert.equal(cut.kind, 'torn-tail');
  assert.equal(cut.problem, 'torn');
  assert.ok(cut.bytesCut > 0);
  assert.ok(events.some((e) => e.event === 'store.log_cut' && e.level === 'warn'), 'the cut is logged');
  assert.equal((await replica.put(utf8('next'), utf8('x'))).lsn, 100, 'appends continue after the cut');
  await replica.close();
  assert.ok(verifyShardLog(dataDir, 0).ok);
});

test('a flipped byte in the middle of a segment refuses to open, and repair cuts there and reports it', async () => {
  const { dataDir, segment } = await writtenReplica('flip', 100);
  const bytes = readFileSync(segment);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = bytes[middle]! ^ 0x40;
  writeFileSync(segment, bytes);
  assert.equal(verifyShardLog(dataDir, 0).ok, false, 'verification sees the damage');
  await assert.rejects(openReplica({ dataDir, shard: 0 }), (error) => {
    assert.ok(isStoreError(error, 'LOG_CORRUPT'));
    assert.ok((error.details['lastGoodLsn'] as number) < 60 && (error.details['lastGoodLsn'] as number) > 40);
    return true;
  });
  assert.equal(statSync(segment).size, bytes.length, 'a refused open changes nothing');
  const replica = await openReplica({ dataDir, shard: 0, repair: true });
  const cut = replica.openReport.log.cut!;
  assert.equal(cut.kind, 'repaired-corruption');
  assert.equal(cut.problem, 'checksum');
  const lastGood = replica.appliedLsn;
  assert.ok(lastGood > 40 && lastGood < 60);
  assert.deepEqual(replica.get(utf8(`k${lastGood}`)), utf8(`value-${lastGood}`.padEnd(40, '.')));
  assert.equal(replica.get(utf8(`k${lastGood + 1}`)), undefined);
  await replica.close();
  assert.ok(verifyShardLog(dataDir, 0).ok);
});

test('a corrupt sealed segment followed by later segments is corruption, not a torn tail', async () => {
  const dataDir = `${temp.dir}/sealed`;
  const replica = await openReplica({ dataDir, shard: 0, segmentMaxBytes: 2048 });
  for (let i = 1; i <= 200; i++) await replica.put(utf8(`k${i}`), Buffer.alloc(64, i));
  const first = replica.describeLog().hot[0]!.path;
  await replica.close();
  const size = statSync(first).size;
  truncateSync(first, size - 10);
  await assert.rejects(openReplica({ dataDir, shard: 0 }), (e) => isStoreError(e, 'LOG_CORRUPT'));
});
