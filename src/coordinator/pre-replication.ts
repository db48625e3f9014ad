/**
 * Pre-replication, or log anticipation (DESIGN §3): when a node's failure probability reaches
 * `preReplicateThreshold`, each shard it serves gets an extra shadow on a low-risk node, so a failover
 * has a warm replica elsewhere. The extra shadow goes once every node of the shard has stayed below
 * the threshold for `preReplicateCooldownMs`. Work per score update is O(shards on the node).
 *
 * @module
 */
import type { NodeInfo } from './cluster-map.js';
import type { OperationContext, ShardOperation } from './operation.js';
import { ReplicaChange } from './replica-change.js';
import { replicaNodes } from './routing.js';

/** What pre-replication needs from the core beyond an operation's context. */
export interface PlacementHost extends OperationContext {
  /** Starts `operation` on its shard; false when the shard is busy. */
  startOperation(operation: ShardOperation): boolean;
  /** Replica moves (pre-replication, removals, rebalance) in flight. */
  readonly movesInFlight: number;
  /** Online nodes below `maxTargetRisk`, fewest replicas first (cached briefly: it costs O(nodes)). */
  lowRiskNodesByLoad(): readonly string[];
}

/** Reacts to one score of `node`: adds extra shadows while it is risky, removes them once calm. */
export function preReplicateOnScore(host: PlacementHost, node: NodeInfo): void {
  const options = host.options;
  if (!options.preReplicate) return;
  if (node.failureP >= options.preReplicateThreshold) {
    for (const shard of [...host.routing.shardsOn(node.name)]) {
      if (host.movesInFlight >= options.maxMovesInFlight) return;
      addExtraShadow(host, shard, node.name);
    }
    return;
  }
  if (!calmLongEnough(host, node)) return;
  for (const shard of [...host.routing.shardsOn(node.name)]) {
    const route = host.routing.get(shard)!;
    if (route.extraShadows.length === 0 || host.movesInFlight >= options.maxMovesInFlight) continue;
    const base = replicaNodes(route).filter((n) => !route.extraShadows.includes(n));
    if (!base.every((n) => calmLongEnough(host, host.cluster.get(n)))) continue;
    host.startOperation(new ReplicaChange(shard, { kind: 'remove-extra', add: null, remove: route.extraShadows[0]!, extra: true }));
  }
}

function addExtraShadow(host: PlacementHost, shard: number, riskyNode: string): void {
  const route = host.routing.get(shard)!;
  if (route.extraShadows.length > 0 || route.primary === null || route.writes !== 'open') return;
  if (host.shardState(shard).operation !== null) return;
  const holders = replicaNodes(route);
  const target = host.lowRiskNodesByLoad().find((n) => n !== riskyNode && !holders.includes(n) && host.cluster.risk(n) < host.options.preReplicateThreshold);
  if (target === undefined) return;
  host.startOperation(new ReplicaChange(shard, { kind: 'pre-replicate', add: target, remove: null, extra: true }));
}

function calmLongEnough(host: PlacementHost, node: NodeInfo | undefined): boolean {
  if (!node || node.liveness !== 'online' || node.lowRiskSinceMs === null) return false;
  return host.nowMs - node.lowRiskSinceMs >= host.options.preReplicateCooldownMs;
}
