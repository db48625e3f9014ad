// Proves the per-shard switch buffer releases held requests in arrival order once the shard opens,
// waits past a FENCED answer for a newer routing version, lets a shard whose primary was lost go to
// try it again after its recheck time, and refuses with UNAVAILABLE (with retryAfterMs) when full or
// past maxPauseMs. Driven by an injected clock, so no timing decides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError, ShardBuffers } from '../../src/gateway/index.js';

const limits = { maxPauseMs: 1_000, maxBufferedOps: 3, maxBufferedBytes: 100, retryAfterMs: 250 };

test('held requests are released in arrival order when the shard opens', async () => {
  const buffers = new ShardBuffers(limits);
  const order: number[] = [];
  const held = [1, 2, 3].map((n) => buffers.hold(7, 1).then(() => order.push(n)));
  assert.equal(buffers.holding(7), true);
  buffers.update(7, 5, false); // still paused
  assert.equal(buffers.size(), 3);
  buffers.update(7, 6, true);
  await Promise.all(held);
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(buffers.holding(7), false);
});

test('a full buffer refuses with UNAVAILABLE and retryAfterMs', async () => {
  const buffers = new ShardBuffers(limits);
  const held = [buffers.hold(1, 1), buffers.hold(1, 1), buffers.hold(1, 1)];
  await assert.rejects(buffers.hold(1, 1), (error: GatewayError) => error.code === 'UNAVAILABLE' && error.retryAfterMs === 250);
  await assert.rejects(new ShardBuffers(limits).hold(2, 101), (error: GatewayError) => error.code === 'UNAVAILABLE');
  buffers.update(1, 1, true);
  await Promise.all(held);
});

test('a request held past maxPauseMs gets UNAVAILABLE; the shard stays held', async () => {
  let nowMs = 0;
  const buffers = new ShardBuffers({ ...limits, maxPauseMs: 5 }, () => nowMs);
  const first = buffers.hold(3, 1);
  nowMs = 10;
  await assert.rejects(first, (error: GatewayError) => error.code === 'UNAVAILABLE' && error.retryAfterMs === 250);
  assert.equal(buffers.holding(3), true);
  const second = buffers.hold(3, 1);
  buffers.update(3, 2, true);
  await second;
});

test('after FENCED the shard is held until a newer routing version opens it', async () => {
  const buffers = new ShardBuffers(limits);
  buffers.fence(4, 10);
  const held = buffers.hold(4, 1);
  buffers.update(4, 10, true); // same version: the fenced primary is still routed
  assert.equal(buffers.size(), 1);
  buffers.update(4, 11, true);
  await held;
});

test('refuseAll answers every held request UNAVAILABLE', async () => {
  const buffers = new ShardBuffers(limits);
  const held = buffers.hold(9, 1);
  buffers.refuseAll(9, 'gone');
  await assert.rejects(held, (error: GatewayError) => error.code === 'UNAVAILABLE');
});

test('a shard whose primary was lost is let go after recheckMs to try it again, unless routing or a fence decides first', async () => {
  const buffers = new ShardBuffers(limits);
  buffers.suspend(5, 3, 20);
  const order: string[] = [];
  const held = [1, 2].map((n) => buffers.hold(5, 1).then((release) => order.push(`${n}:${release}`)));
  buffers.update(5, 3, true); // the same table: routing still names the lost primary
  assert.equal(buffers.size(), 2, 'the table the loss was seen at does not release the shard');
  await Promise.all(held);
  assert.deepEqual(order, ['1:recheck', '2:recheck'], 'after recheckMs, in arrival order');
  assert.equal(buffers.holding(5), false);
  assert.equal(buffers.counters.rechecked, 2);
  assert.equal(buffers.counters.held, 2);

  // The two come back, still finding the primary lost: held again, not counted as new requests.
  buffers.suspend(5, 3, 10);
  await Promise.all([buffers.hold(5, 1, true), buffers.hold(5, 1, true)]);
  assert.deepEqual([buffers.counters.held, buffers.counters.reheld, buffers.counters.rechecked], [2, 2, 4], 'each request counted once as held');

  buffers.suspend(5, 3, 10_000);
  const routed = buffers.hold(5, 1);
  buffers.update(5, 4, true); // a failover moved the shard
  assert.equal(await routed, 'routed', 'a newer open table releases it before the recheck');

  buffers.fence(6, 8);
  buffers.suspend(6, 8, 10);
  const fenced = buffers.hold(6, 1);
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal(buffers.size(), 1, 'a FENCED answer holds the shard past the recheck');
  buffers.update(6, 9, true);
  assert.equal(await fenced, 'routed');
});

test('requests waiting for a lost primary are bounded like any held request', async () => {
  const buffers = new ShardBuffers(limits);
  buffers.suspend(2, 1, 10_000);
  const held = [buffers.hold(2, 1), buffers.hold(2, 1), buffers.hold(2, 1)];
  await assert.rejects(buffers.hold(2, 1), (error: GatewayError) => error.code === 'UNAVAILABLE' && /buffer is full/.test(error.message));
  buffers.update(2, 2, true);
  await Promise.all(held);
});
