// Proves `foreshard restore` and `foreshard conflicts` work on a real data directory, run as the
// user runs them (spawning `node bin/foreshard.js`): restore by lsn and by ISO time rebuilds exactly
// the state at that point (including from a snapshot and the cold tier), conflicts lists the file a
// rejoin wrote, and bad invocations exit 2 (usage) or 1 (operating error) with one line on stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ManualClock, Replica } from '../../src/store/index.js';
import { openReplica, tempDataDir, utf8 } from './helpers.js';

const temp = tempDataDir('cli');
after(() => temp.cleanup());
const dataDir = `${temp.dir}/data`;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function foreshard(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['bin/foreshard.js', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

before(async () => {
  // Shard 2: one write per simulated second, x = 1..30, with a snapshot at lsn 10 and old segments cold.
  const clock = new ManualClock(T0);
  const primary = await openReplica({ dataDir, shard: 2, clock, segmentMaxBytes: 512, coldAfterMs: 5000 });
  for (let i = 1; i <= 30; i++) {
    await primary.put(utf8('x'), utf8(String(i)));
    await primary.put(utf8(`k${i}`), utf8(`v${i}`));
    if (i === 10) primary.snapshotNow();
    clock.advance(1000);
  }
  assert.ok((await primary.moveColdSegments()) > 0);
  // A rejoin on shard 2 cuts lsns 59..60 into a conflict file.
  await primary.fence(1);
  await primary.truncateAfter(58, 'rejoin');
  await primary.close();
});

test('restore by lsn rebuilds the state at that lsn into a new replica directory', async () => {
  const result = foreshard('restore', '--shard', '2', '--to', '25', '--data-dir', dataDir, '--out', `${temp.dir}/out-lsn`, '--json', '--dump');
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { lsn: number; keys: number; snapshotLsn: number; dumpPath: string };
  assert.deepEqual([report.lsn, report.keys, report.snapshotLsn], [25, 13, 20]);
  const restored = await Replica.open({ dataDir: `${temp.dir}/out-lsn`, shard: 2, logger: () => {} });
  assert.equal(restored.role, 'fenced');
  assert.deepEqual(restored.get(utf8('x')), utf8('13'));
  assert.deepEqual(restored.get(utf8('k12')), utf8('v12'));
  assert.equal(restored.get(utf8('k13')), undefined);
  await restored.close();
  const dump = readFileSync(report.dumpPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: string });
  assert.equal(dump.length, 13);
});

test('restore by ISO time keeps exactly the writes with ts at or before it', async () => {
  const at = new Date(T0 + 4500).toISOString();
  const result = foreshard('restore', '--shard', '2', '--to', at, '--data-dir', dataDir, '--out', `${temp.dir}/out-time`, '--json');
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { lsn: number; ts: number };
  assert.deepEqual([report.lsn, report.ts], [10, T0 + 4000]);
  const restored = await Replica.open({ dataDir: `${temp.dir}/out-time`, shard: 2, logger: () => {} });
  assert.deepEqual(restored.get(utf8('x')), utf8('5'));
  await restored.close();
});

test('conflicts lists the rejoin conflict file with its shard, epoch, lsn range and count', () => {
  const json = foreshard('conflicts', '--data-dir', dataDir, '--json');
  assert.equal(json.status, 0, json.stderr);
  const { conflicts } = JSON.parse(json.stdout) as { conflicts: { shard: number; epoch: number; fromLsn: number; toLsn: number; count: number; reason: string; path: string }[] };
  assert.equal(conflicts.length, 1);
  assert.deepEqual({ ...conflicts[0], path: undefined, createdAt: undefined }, { shard: 2, epoch: 1, reason: 'rejoin', fromLsn: 59, toLsn: 60, count: 2, path: undefined, createdAt: undefined });
  const table = foreshard('conflicts', '--data-dir', dataDir);
  assert.match(table.stdout, /^SHARD\s+EPOCH\s+REASON\s+LSNS\s+COUNT/);
  assert.match(table.stdout, /\n2\s+1\s+rejoin\s+59\.\.60\s+2\s/);
});

test('bad invocations exit 2 for usage and 1 for operating errors', () => {
  assert.equal(foreshard('restore', '--to', '3', '--data-dir', dataDir, '--out', `${temp.dir}/x`).status, 2);
  assert.equal(foreshard('restore', '--shard', '2', '--to', 'yesterday', '--data-dir', dataDir, '--out', `${temp.dir}/x`).status, 2);
  const missing = foreshard('restore', '--shard', '9', '--to', '3', '--data-dir', dataDir, '--out', `${temp.dir}/x`);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no shard 9/);
  assert.equal(foreshard('restore', '--shard', '2', '--to', '3', '--data-dir', dataDir, '--out', `${temp.dir}/out-lsn`).status, 1, 'refuses to overwrite');
  assert.equal(foreshard('restore', '--shard', '2', '--to', '999', '--data-dir', dataDir, '--out', `${temp.dir}/y`).status, 1, 'past the end of the log');
  assert.equal(foreshard('conflicts', '--data-dir', `${temp.dir}/nope`).status, 1);
});
