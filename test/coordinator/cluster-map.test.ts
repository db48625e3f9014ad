// Proves how the cluster map takes births when they arrive out of order: a birth published before
// the current session's (a restarted node's previous life, delayed) is ignored while that session
// is online, so commands keep going to the process that runs; once the current session is gone, any
// birth is taken, so a host clock that stepped back cannot lock a restarted agent out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterMap } from '../../src/coordinator/index.js';

const birth = (session: string, ts: number) => ({ state: 'online' as const, session, ts, version: 'test', profile: 'test', dataUrl: 'ws://b' });

test('a late birth of an earlier session is ignored while the current one is online', () => {
  const cluster = new ClusterMap(16);
  assert.equal(cluster.birth('b', birth('s1', 1_000), 1_000), 'new');
  assert.equal(cluster.birth('b', birth('s2', 5_000), 5_100), 'restarted');
  assert.equal(cluster.birth('b', birth('s1', 4_000), 5_200), 'stale', 'a re-birth of s1 published before s2 was born');
  assert.equal(cluster.get('b')!.session, 's2');
});

test('births of two restarts that arrive in the wrong order leave the newest session (simulator seed lossy 3323)', () => {
  const cluster = new ClusterMap(16);
  cluster.birth('b', birth('s1', 1_000), 1_000);
  assert.equal(cluster.birth('b', birth('s3', 9_000), 9_100), 'restarted');
  assert.equal(cluster.birth('b', birth('s2', 5_000), 9_200), 'stale');
  assert.equal(cluster.get('b')!.session, 's3');
  // s3's own birth again (after a late will, say) is always taken.
  assert.equal(cluster.birth('b', birth('s3', 9_500), 9_600), 'same');
});

test('once the current session is gone, a birth stamped earlier is taken: the host clock stepped back', () => {
  const cluster = new ClusterMap(16);
  cluster.birth('b', birth('s1', 10_000), 10_000);
  assert.equal(cluster.birth('b', birth('s2', 2_000), 10_500), 'stale', 'while s1 is online');
  assert.ok(cluster.will('b', 's1', 11_000), "s1's will");
  assert.equal(cluster.birth('b', birth('s2', 2_100), 11_100), 'restarted');
  assert.equal(cluster.get('b')!.session, 's2');
});
