/**
 * Creating the cluster: when no routing table is retained and `shardCount` is set, the coordinator
 * places every shard on the online nodes round-robin (a primary and `shadowsPerShard` shadows on
 * distinct nodes), publishes the table with writes paused, then promotes each primary at epoch 1
 * (creating its empty replica) and tells the shadows to follow it. Writes open once the primary
 * answers. Later changes of placement are rebalancing's job.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { ShardOperation, type NodeChange, type OperationContext, type PendingCommand } from './operation.js';
import type { CommandResultMessage, RoutingShard } from './types.js';

/** The epoch every shard starts at. */
export const firstEpoch = 1;

/** Round-robin placement of `shardCount` shards over `nodes` (sorted), or null with too few nodes. */
export function planInitialPlacement(shardCount: number, shadowsPerShard: number, nodes: readonly { name: string; dataUrl: string }[]): RoutingShard[] | null {
  const replicas = 1 + shadowsPerShard;
  if (nodes.length < replicas) return null;
  const shards: RoutingShard[] = [];
  for (let id = 0; id < shardCount; id++) {
    const chosen = Array.from({ length: replicas }, (_, i) => nodes[(id + i) % nodes.length]!);
    const [primary, ...shadows] = chosen;
    shards.push({
      id,
      epoch: firstEpoch,
      primary: primary!.name,
      shadows: shadows.map((n) => n.name),
      writes: 'paused',
      dataUrls: Object.fromEntries(chosen.map((n) => [n.name, n.dataUrl])),
      available: true,
      extraShadows: [],
      recovering: [],
      created: false,
    });
  }
  return shards;
}

/** Brings one newly placed shard to life. */
export class CreateShard extends ShardOperation {
  readonly kind = 'create' as const;
  readonly background = false;
  private readonly waiting = new Set<string>();
  private opened = false;

  /** Sends the promote to the primary and the follows to the shadows. */
  start(ctx: OperationContext): void {
    const route = ctx.routing.get(this.shard)!;
    assert.ok(route.primary !== null && route.epoch === firstEpoch, 'only a new shard is created');
    // A node gone offline since placement has no session to send to: nothing would ever answer.
    for (const shadow of route.shadows) {
      if (ctx.send(this, shadow, 'follow', this.shard, firstEpoch, { primary: route.primary })) this.waiting.add(shadow);
    }
    if (!ctx.send(this, route.primary, 'promote', this.shard, firstEpoch, { throughLsn: 0, create: true })) {
      return ctx.startFailover(this.shard, `primary ${route.primary} went offline before the shard was created`);
    }
    this.waiting.add(route.primary);
  }

  /** Writes open once the primary answers; the operation ends once every replica has. */
  onResult(ctx: OperationContext, pending: PendingCommand, message: CommandResultMessage): void {
    if (!message.ok) {
      const code = message.error?.code ?? '?';
      ctx.log('warn', 'CREATE_REFUSED', `shard ${this.shard}: ${pending.command.type} refused by ${pending.node}: ${code}`);
      if (!this.waiting.delete(pending.node)) return;
      // A refusal is final (an agent that restarted refuses its earlier session's commands, one that
      // has seen a newer epoch refuses epoch 1): the shard would wait for ever. Without its primary
      // a failover creates it at a fresh epoch, on a replica that holds it or by creating it empty.
      // A shadow that refused is not waited for; the replica reports make it follow once this ends.
      if (pending.command.type === 'promote' && !this.opened) return ctx.startFailover(this.shard, `primary ${pending.node} refused to create the shard: ${code}`);
      if (this.opened && this.waiting.size === 0) ctx.finish(this);
      return;
    }
    this.waiting.delete(pending.node);
    if (pending.command.type === 'promote' && !this.opened) {
      this.opened = true;
      ctx.routing.update(this.shard, { writes: 'open' });
    }
    if (this.opened && this.waiting.size === 0) ctx.finish(this);
  }

  /** Unanswered commands are sent again while their node is alive. */
  onTimeout(ctx: OperationContext, pending: PendingCommand): void {
    if (this.waiting.has(pending.node) && !ctx.cluster.isDead(pending.node)) this.resend(ctx, pending);
  }

  /** A primary that dies before answering is replaced by a failover; a dead shadow is not waited for. */
  override onNodeChange(ctx: OperationContext, node: string, change: NodeChange): void {
    if (change === 'up') return;
    const route = ctx.routing.get(this.shard)!;
    if (node === route.primary && !this.opened) return ctx.startFailover(this.shard, `primary ${node} went down while the shard was created`);
    this.waiting.delete(node);
    if (this.opened && this.waiting.size === 0) ctx.finish(this);
  }
}
