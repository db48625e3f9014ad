// Proves the replication scenarios of issue 4 end to end over real loopback sockets, each with
// separate hosts, data dirs and ports in one process, asserting exact contents: acks honour
// minShadowAcks (a cut-off shadow makes writes fail UNAVAILABLE, never succeed); a late shadow
// catches up from the log and from a snapshot; a shadow reconnects after a gap; promotion fences
// the old primary (MOVED); a former primary rejoins with its unreplicated tail in a conflict file;
// and a shadow rolls back to time T with the discarded tail saved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ManualClock } from '../../src/store/index.js';
import { connectClient, outcome, startHost, utf8, waitFor, type TestHost } from './helpers.js';

async function put(client: Awaited<ReturnType<typeof connectClient>>, key: string, value: string, epoch = 1): Promise<string> {
  return outcome(await client.request({ op: 'put', shard: 0, epoch, key: utf8(key), value: utf8(value) }));
}

function stopAll(t: { after(fn: () => Promise<void>): void }, hosts: TestHost[]): void {
  t.after(async () => {
    for (const h of hosts) await h.stop();
  });
}

test('writes wait for minShadowAcks: with the only shadow cut off they fail UNAVAILABLE, and succeed again once it is back', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1', { ackTimeoutMs: 300 });
  const shadow = await startHost('s1', { reconnectDelayMs: 60_000, reconnectDelayMaxMs: 60_000 });
  hosts.push(primary, shadow);
  await primary.host.openShard(0, 'primary', 1);
  await shadow.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
  const client = await connectClient(primary.host);
  t.after(() => client.close());
  assert.equal(await put(client, 'a', '1'), 'ok');
  assert.equal(shadow.host.replica(0)!.receivedLsn, 1, 'acknowledged means the shadow holds it');

  // Stop the shadow: the primary has no shadow connected, so the write must not be acknowledged.
  await shadow.host.removeShadow(0, 1);
  await waitFor('primary sees the shadow gone', () => primary.host.reportShard(0).shadows!.every((s) => !s.connected));
  assert.equal(await put(client, 'b', '2'), 'UNAVAILABLE');
  assert.equal(primary.host.stats().writesUnavailable, 1);

  await shadow.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
  assert.equal(await put(client, 'c', '3'), 'ok');
  const replica = shadow.host.replica(0)!;
  assert.equal(replica.receivedLsn, 3, 'the new shadow caught up with the unacknowledged write too');
});

test('minShadowAcks 2 needs both shadows; one is not enough', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1', { minShadowAcks: 2, ackTimeoutMs: 300 });
  const a = await startHost('s1');
  hosts.push(primary, a);
  await primary.host.openShard(0, 'primary', 1);
  await a.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
  const client = await connectClient(primary.host);
  t.after(() => client.close());
  assert.equal(await put(client, 'a', '1'), 'UNAVAILABLE');
  const b = await startHost('s2');
  hosts.push(b);
  await b.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
  assert.equal(await put(client, 'b', '2'), 'ok');
  assert.equal(b.host.replica(0)!.receivedLsn, 2);
});

test('a late shadow catches up from the log, and a very late one from a snapshot; both end identical', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1', { minShadowAcks: 0, snapshotCatchUpRecords: 500 });
  hosts.push(primary);
  await primary.host.openShard(0, 'primary', 1);
  const replica = primary.host.replica(0)!;
  for (let i = 0; i < 300; i++) await replica.put(utf8(`k${i % 50}`), utf8(`v${i}`));
  const fromLog = await startHost('s1', { applyDelayMs: 0 });
  hosts.push(fromLog);
  await fromLog.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl }, 0);
  await waitFor('log catch-up', () => fromLog.host.replica(0)!.appliedLsn === 300);
  assert.equal(primary.host.stats().snapshotsSent, 0);

  for (let i = 300; i < 1_000; i++) await replica.put(utf8(`k${i % 50}`), utf8(`v${i}`));
  await replica.del(utf8('k7'));
  const fromSnapshot = await startHost('s2', { applyDelayMs: 0 });
  hosts.push(fromSnapshot);
  await fromSnapshot.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl }, 0);
  await waitFor('snapshot catch-up', () => fromSnapshot.host.replica(0)?.appliedLsn === 1_001 && fromLog.host.replica(0)!.appliedLsn === 1_001);
  assert.equal(primary.host.stats().snapshotsSent, 1);
  assert.equal(fromSnapshot.host.stats().snapshotsInstalled, 1);
  // Live frames after the snapshot resolve against it, deltas included.
  const doc = (n: number): Buffer => utf8(JSON.stringify({ n, text: 'x'.repeat(200) }));
  await replica.put(utf8('k1'), doc(1));
  await replica.put(utf8('k1'), doc(2));
  // minShadowAcks is 0 here, so the puts return before either shadow has the frames: wait for both.
  await waitFor('live after snapshot', () => fromSnapshot.host.replica(0)!.appliedLsn === 1_003 && fromLog.host.replica(0)!.appliedLsn === 1_003);
  assert.equal(fromSnapshot.host.replica(0)!.digest(), replica.digest());
  assert.equal(fromLog.host.replica(0)!.digest(), replica.digest());
  assert.equal(fromSnapshot.host.replica(0)!.get(utf8('k7')), undefined);
});

test('a shadow whose connection drops reconnects and resumes from its received lsn', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1', { minShadowAcks: 0 });
  const shadow = await startHost('s1', { applyDelayMs: 0 });
  hosts.push(primary, shadow);
  await primary.host.openShard(0, 'primary', 1);
  await shadow.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl }, 0);
  const replica = primary.host.replica(0)!;
  for (let i = 0; i < 100; i++) await replica.put(utf8(`k${i}`), utf8(`v${i}`));
  await waitFor('first part', () => shadow.host.replica(0)!.receivedLsn === 100);
  // Cut the link from the shadow side, write while it is down, and let it reconnect.
  (shadow.host as unknown as { shards: Map<number, { follower: { dropConnection(): void } }> }).shards.get(0)!.follower.dropConnection();
  for (let i = 100; i < 200; i++) await replica.put(utf8(`k${i}`), utf8(`v${i}`));
  await waitFor('reconnected and caught up', () => shadow.host.replica(0)!.appliedLsn === 200);
  assert.equal(shadow.host.replica(0)!.digest(), replica.digest());
  assert.ok(shadow.host.stats().resyncsSent >= 2);
});

test('a shadow whose primary is gone closes at once, without waiting out its reconnect backoff', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1', { minShadowAcks: 0 });
  // A first retry after 20 s: closing while the followers wait for it must not wait for it, once per shard.
  const shadow = await startHost('s1', { applyDelayMs: 0, reconnectDelayMs: 20_000, reconnectDelayMaxMs: 60_000 });
  hosts.push(primary, shadow);
  for (const shard of [0, 1, 2]) {
    await primary.host.openShard(shard, 'primary', 1);
    await shadow.host.addShadow(shard, 1, { node: 'p1', dataUrl: primary.host.dataUrl }, 0);
    await primary.host.replica(shard)!.put(utf8('k'), utf8('v'));
  }
  await waitFor('replicated', () => [0, 1, 2].every((shard) => shadow.host.replica(shard)!.receivedLsn === 1));
  const followers = (shadow.host as unknown as { shards: Map<number, { follower: { state: string } }> }).shards;
  await primary.host.close();
  await waitFor('every follower in its backoff', () => [0, 1, 2].every((shard) => followers.get(shard)!.follower.state === 'connecting'));
  const startedAt = Date.now();
  await shadow.host.close();
  const tookMs = Date.now() - startedAt;
  assert.ok(tookMs < 10_000, `closing took ${tookMs} ms: it waited for the 20 s reconnect backoff`);
});

test('promotion with fencing: the old primary answers MOVED, the new one serves at the new epoch', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1');
  const shadow = await startHost('s1', { applyDelayMs: 60_000 });
  hosts.push(primary, shadow);
  await primary.host.openShard(0, 'primary', 1);
  await shadow.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
  const oldClient = await connectClient(primary.host);
  t.after(() => oldClient.close());
  for (let i = 0; i < 20; i++) assert.equal(await put(oldClient, `k${i}`, `v${i}`), 'ok');

  const fenced = await primary.host.fence(0, 1);
  assert.deepEqual(fenced, { epoch: 1, lastLsn: 20 });
  const duringSwitch = await oldClient.request({ op: 'put', shard: 0, epoch: 1, key: utf8('x'), value: utf8('y') });
  assert.ok(!duringSwitch.ok && duringSwitch.error.code === 'FENCED');
  const promoted = await shadow.host.promote(0, 2, fenced.lastLsn!);
  assert.equal(promoted.epoch, 2);
  assert.equal(shadow.host.replica(0)!.appliedLsn, 20, 'promotion applies the whole tail at once, ignoring the delay');
  await primary.host.demote(0, 2, 's1');

  const moved = await oldClient.request({ op: 'put', shard: 0, epoch: 1, key: utf8('x'), value: utf8('y') });
  assert.deepEqual(moved.ok ? undefined : { code: moved.error.code, epoch: moved.error.epoch, primary: moved.error.primary }, { code: 'MOVED', epoch: 2, primary: 's1' });
  await assert.rejects(primary.host.promote(0, 1, 0), { code: 'STALE_EPOCH' });

  const newClient = await connectClient(shadow.host);
  t.after(() => newClient.close());
  const stale = await newClient.request({ op: 'get', shard: 0, epoch: 1, key: utf8('k3') });
  assert.ok(!stale.ok && stale.error.code === 'MOVED' && stale.error.epoch === 2);
  const read = await newClient.request({ op: 'get', shard: 0, epoch: 2, key: utf8('k3') });
  assert.ok(read.ok && Buffer.from(read.value!).toString() === 'v3');
  // The new primary has no shadow yet: with minShadowAcks 1, writes are not acknowledged.
  const write = await newClient.request({ op: 'put', shard: 0, epoch: 2, key: utf8('k3'), value: utf8('w') });
  assert.ok(!write.ok && write.error.code === 'UNAVAILABLE');
});

test('a former primary rejoins as a shadow: its unreplicated tail goes to a conflict file with exact contents', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1', { minShadowAcks: 0 });
  const shadow = await startHost('s1', { applyDelayMs: 0, minShadowAcks: 0 });
  hosts.push(primary, shadow);
  await primary.host.openShard(0, 'primary', 1);
  await shadow.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl }, 0);
  const old = primary.host.replica(0)!;
  for (let i = 1; i <= 10; i++) await old.put(utf8(`k${i}`), utf8(`v${i}`));
  await waitFor('shadow has 10', () => shadow.host.replica(0)!.receivedLsn === 10);
  // The shadow is cut off; the primary takes three more writes nobody else receives.
  await shadow.host.promote(0, 2, 10);
  await old.put(utf8('lost1'), utf8('a'));
  await old.put(utf8('lost2'), utf8('b'));
  await old.del(utf8('k1'));
  const successor = shadow.host.replica(0)!;
  await successor.put(utf8('new1'), utf8('n1'));

  await primary.host.follow(0, 2, { node: 's1', dataUrl: shadow.host.dataUrl });
  await waitFor('rejoined', () => primary.host.replica(0)!.receivedLsn === 11 && primary.host.reportShard(0).lastConflictFile !== undefined);
  const conflict = JSON.parse(readFileSync(primary.host.reportShard(0).lastConflictFile!, 'utf8'));
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  assert.deepEqual(
    { format: conflict.format, shard: conflict.shard, epoch: conflict.epoch, reason: conflict.reason, fromLsn: conflict.fromLsn, toLsn: conflict.toLsn, count: conflict.count },
    { format: 'foreshard-conflict/1', shard: 0, epoch: 1, reason: 'rejoin', fromLsn: 11, toLsn: 13, count: 3 },
  );
  assert.deepEqual(conflict.records.map((r: { lsn: number; op: string; key: string; value?: string }) => [r.lsn, r.op, r.key, r.value]), [
    [11, 'put', b64('lost1'), b64('a')],
    [12, 'put', b64('lost2'), b64('b')],
    [13, 'del', b64('k1'), undefined],
  ]);
  await waitFor('applied', () => primary.host.replica(0)!.appliedLsn === 11);
  assert.equal(primary.host.replica(0)!.digest(), successor.digest());
  assert.equal(primary.host.replica(0)!.role, 'shadow');
});

test('rollback to T: the shadow serves its state as of T; the unapplied tail after T is saved', async (t) => {
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const clock = new ManualClock(1_800_000_000_000);
  const primary = await startHost('p1', { clock, minShadowAcks: 1 });
  const shadow = await startHost('s1', { clock, applyDelayMs: 5_000 });
  hosts.push(primary, shadow);
  await primary.host.openShard(0, 'primary', 1);
  await shadow.host.addShadow(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
  const client = await connectClient(primary.host);
  t.after(() => client.close());
  for (let i = 1; i <= 5; i++) assert.equal(await put(client, `k${i}`, `before`), 'ok');
  const T = clock.now();
  clock.advance(1_000);
  for (let i = 1; i <= 3; i++) assert.equal(await put(client, `k${i}`, `after`), 'ok');
  assert.equal(shadow.host.reportShard(0).rollbackWindowFrames, 8);

  await primary.host.fence(0, 1);
  const result = await shadow.host.rollback(0, T, 2, 8);
  assert.deepEqual({ epoch: result.epoch, lastLsn: result.lastLsn }, { epoch: 2, lastLsn: 5 });
  const saved = JSON.parse(readFileSync(result.savedTo!, 'utf8'));
  assert.deepEqual([saved.reason, saved.fromLsn, saved.toLsn, saved.count], ['rollback', 6, 8, 3]);
  const client2 = await connectClient(shadow.host);
  t.after(() => client2.close());
  const read = await client2.request({ op: 'get', shard: 0, epoch: 2, key: utf8('k2') });
  assert.ok(read.ok && Buffer.from(read.value!).toString() === 'before');
});

test('a follow that arrives after a fence of a shard this node did not hold yet is refused, so the old primary gains no acknowledgement', async (t) => {
  // The coordinator adds a shadow (follow at epoch 1) and then, its primary silent, fences every
  // replica at epoch 2. The fence reaches the new node first, when it holds nothing (NO_REPLICA);
  // creating the shadow at epoch 1 afterwards would let the old primary, if it resumes, have its
  // writes acknowledged by it (simulator seed 1890, with 2 s heartbeats and wills 0.5 s after a stop).
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const primary = await startHost('p1');
  const late = await startHost('s9');
  hosts.push(primary, late);
  await primary.host.openShard(0, 'primary', 1);
  // The agent's `fence` and `follow` commands (src/agent/replication-host.ts).
  await assert.rejects(late.host.fenceAt(0, 2), (error: Error & { code?: string }) => error.code === 'UNKNOWN_SHARD');
  await assert.rejects(late.host.followAt(0, 1, { node: 'p1', dataUrl: primary.host.dataUrl }), (error: Error & { code?: string }) => error.code === 'STALE_EPOCH');
  assert.equal(late.host.replica(0), undefined, 'no replica was created');
  const client = await connectClient(primary.host);
  t.after(() => client.close());
  // With no shadow, the old primary's write is not acknowledged (minShadowAcks 1).
  assert.notEqual(await put(client, 'k', 'v'), 'ok');
  // A follow at the fence's epoch or later is taken.
  const state = await late.host.followAt(0, 2, { node: 'p1', dataUrl: primary.host.dataUrl });
  assert.equal(state.epoch, 2);
});

test('a create that arrives after a fence of a shard this node did not hold yet is refused, so no stray primary is made', async (t) => {
  // The coordinator creates a shard (promote with create at epoch 1); the primary-to-be holds nothing
  // when a failover's fence at epoch 2 reaches it (the failover that now creates the shard elsewhere).
  // The late create must not make this node a primary of epoch 1 beside the new one.
  const hosts: TestHost[] = [];
  stopAll(t, hosts);
  const late = await startHost('p9');
  hosts.push(late);
  await assert.rejects(late.host.fenceAt(0, 2), (error: Error & { code?: string }) => error.code === 'UNKNOWN_SHARD');
  await assert.rejects(late.host.promoteAt(0, 1, { throughLsn: 0, create: true }, 1_000), (error: Error & { code?: string }) => error.code === 'STALE_EPOCH');
  assert.equal(late.host.replica(0), undefined, 'no replica was created');
  // A create at a fresh epoch, past the fence, is taken.
  const state = await late.host.promoteAt(0, 3, { throughLsn: 0, create: true }, 1_000);
  assert.deepEqual([state.role, state.epoch], ['primary', 3]);
});
