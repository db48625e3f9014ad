// Proves how a removal of a shadow waits for another to hold its writes: a shadow still behind is
// asked again at the next tick, not at once (which made 50 polls one burst of round trips), and a
// listed shadow that is not following this primary (it holds no replica, or follows an older epoch)
// is told to follow instead of being polled until the removal gives up and starts again.
// Drives the operation against a small fake of the core (OperationContext).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterMap, RoutingTable, defaultCoordinatorOptions } from '../../src/coordinator/index.js';
import type { OperationContext, PendingCommand, ShardOperation } from '../../src/coordinator/operation.js';
import { ReplicaChange } from '../../src/coordinator/replica-change.js';
import { ShardState } from '../../src/coordinator/shard-state.js';
import type { CommandType } from '../../src/coordinator/types.js';

interface Fake {
  ctx: OperationContext;
  sent: PendingCommand[];
  started: ShardOperation[];
  finished: ShardOperation[];
}

/** Shard 0 at epoch 2: primary p, shadows a and b, every node online. */
function fake(): Fake {
  const routing = new RoutingTable();
  routing.create({ id: 0, epoch: 2, primary: 'p', shadows: ['a', 'b'], writes: 'open', dataUrls: { p: 'ws://p', a: 'ws://a', b: 'ws://b' }, available: true, extraShadows: [], recovering: [] });
  const cluster = new ClusterMap(16);
  for (const node of ['p', 'a', 'b']) cluster.birth(node, { state: 'online', session: `${node}-1`, ts: 0, version: 'test', profile: 'test', dataUrl: `ws://${node}` }, 0);
  const state = new ShardState(0, 2, 16, 0);
  const sent: PendingCommand[] = [];
  const started: ShardOperation[] = [];
  const finished: ShardOperation[] = [];
  let ids = 0;
  const ctx: OperationContext = {
    options: defaultCoordinatorOptions,
    nowMs: 0,
    routing,
    cluster,
    shardState: () => state,
    send(owner, node, type: CommandType, shard, epoch, args = {}, attempt = 1) {
      const pending: PendingCommand = { command: { cmdId: `c${++ids}`, type, shard, epoch, args, ts: 0 }, node, attempt, deadlineMs: 5_000, timedOut: false, routingRevision: 0, owner };
      sent.push(pending);
      return pending;
    },
    publishIncident: () => {},
    watchOutcome: () => {},
    finish: (operation) => void finished.push(operation),
    startOperation: (operation) => (started.push(operation), true),
    markRecovering: () => {},
    clearRecovering: () => {},
    startFailover: () => {},
    log: () => {},
    newId: (prefix) => `${prefix}-${++ids}`,
  };
  return { ctx, sent, started, finished };
}

/** Starts the removal of shadow a and answers its fence: a received through lsn 40 at epoch 2. */
function removingA(f: Fake): { removal: ReplicaChange; poll: PendingCommand } {
  const removal = new ReplicaChange(0, { kind: 'remove-extra', add: null, remove: 'a', extra: false });
  removal.start(f.ctx);
  const fence = f.sent.at(-1)!;
  assert.deepEqual([fence.command.type, fence.node], ['fence', 'a']);
  removal.onResult(f.ctx, fence, { cmdId: fence.command.cmdId, ok: true, result: { shard: 0, role: 'recovering', epoch: 2, receivedLsn: 40, appliedLsn: 40, lastEpoch: 2 } });
  const poll = f.sent.at(-1)!;
  assert.deepEqual([poll.command.type, poll.node], ['report', 'b']);
  return { removal, poll };
}

const shadowAt = (lsn: number, epoch = 2) => ({ shard: 0, role: 'shadow', epoch, receivedLsn: lsn, appliedLsn: lsn, lastEpoch: epoch });

test('a shadow still behind is asked again at the next tick, and the removal drops once it caught up', () => {
  const f = fake();
  const { removal, poll } = removingA(f);
  const before = f.sent.length;
  removal.onResult(f.ctx, poll, { cmdId: poll.command.cmdId, ok: true, result: shadowAt(30) });
  assert.equal(f.sent.length, before, 'not asked again at once');
  removal.onTick(f.ctx);
  const again = f.sent.at(-1)!;
  assert.deepEqual([again.command.type, again.node, again.attempt], ['report', 'b', 2]);
  removal.onTick(f.ctx);
  assert.equal(f.sent.length, before + 1, 'one poll per answer, not one per tick');
  removal.onResult(f.ctx, again, { cmdId: again.command.cmdId, ok: true, result: shadowAt(40) });
  assert.deepEqual([f.sent.at(-1)!.command.type, f.sent.at(-1)!.node], ['drop', 'a']);
});

test('a listed shadow that holds no replica is told to follow, not polled', () => {
  const f = fake();
  const { removal, poll } = removingA(f);
  removal.onResult(f.ctx, poll, { cmdId: poll.command.cmdId, ok: false, error: { code: 'NO_REPLICA', message: 'no such replica' } });
  assert.deepEqual(f.finished, [removal], 'the removal ends');
  assert.equal(f.started.length, 1);
  const rejoin = f.started[0] as ReplicaChange;
  assert.deepEqual([rejoin.kind, rejoin.plan.add, rejoin.plan.remove], ['rejoin', 'b', null]);
  removal.onTick(f.ctx);
  assert.equal(f.sent.filter((p) => p.command.type === 'report').length, 1, 'b was polled once');
});

test('a listed shadow of an older epoch is told to follow: it would never catch up with this primary', () => {
  const f = fake();
  const { removal, poll } = removingA(f);
  removal.onResult(f.ctx, poll, { cmdId: poll.command.cmdId, ok: true, result: shadowAt(35, 1) });
  assert.deepEqual(f.finished, [removal]);
  assert.deepEqual(f.started.map((op) => [op.kind, (op as ReplicaChange).plan.add]), [['rejoin', 'b']]);
});
