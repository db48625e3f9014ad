/**
 * Rebalancing (DESIGN §3): spread shadows, then primaries, evenly over the online nodes, within a
 * limit of moves in flight, and never onto a node at or above `maxTargetRisk`. A shadow moves by
 * adding it on the lighter node first and dropping it from the heavier one after; a primary moves by
 * a planned switch to a shadow on a node with fewer primaries. Every move lowers the sum of squared
 * loads, so repeated passes converge.
 *
 * @module
 */
import type { ClusterMap } from './cluster-map.js';
import type { RoutingTable } from './routing.js';

/** One move a pass wants. */
export type RebalanceMove =
  | { shard: number; kind: 'move-shadow'; from: string; to: string }
  | { shard: number; kind: 'move-primary'; to: string };

/** What a pass reads. */
export interface RebalanceInput {
  routing: RoutingTable;
  cluster: ClusterMap;
  /** True for shards with an operation in flight, or otherwise not to be touched. */
  busy(shard: number): boolean;
  /** How many moves may start. */
  budget: number;
  maxTargetRisk: number;
  /**
   * Moves already under way, whose effect routing does not show yet: a primary switch still
   * promoting, a shadow not yet dropped from the node it leaves. Counted as done, so a pass does not
   * plan the same correction twice and overshoot (with slow messages a switch outlasts a pass).
   */
  inFlight?: readonly InFlightMove[];
}

/** A move under way: a primary leaving `from` for `to`, or a shadow leaving `from`. */
export type InFlightMove = { kind: 'move-primary'; from: string; to: string } | { kind: 'move-shadow'; from: string };

/** Plans up to `budget` moves. O(nodes × budget + shards) per pass. */
export function planRebalance(input: RebalanceInput): RebalanceMove[] {
  const online = input.cluster.all().filter((n) => n.liveness === 'online').map((n) => n.name);
  if (online.length < 2 || input.budget <= 0) return [];
  const eligible = new Set(online.filter((n) => input.cluster.risk(n) < input.maxTargetRisk));
  const replicas = new Map(online.map((n) => [n, input.routing.shardsOn(n).size]));
  const primaries = countPrimaries(input.routing, online);
  for (const move of input.inFlight ?? []) {
    const counts = move.kind === 'move-primary' ? primaries : replicas;
    if (counts.has(move.from)) counts.set(move.from, counts.get(move.from)! - 1);
    if (move.kind === 'move-primary' && primaries.has(move.to)) primaries.set(move.to, primaries.get(move.to)! + 1);
  }
  const taken = new Set<number>();
  const moves: RebalanceMove[] = [];
  planShadowMoves(input, online, eligible, replicas, taken, moves);
  planPrimaryMoves(input, online, eligible, primaries, taken, moves);
  return moves;
}

function countPrimaries(routing: RoutingTable, online: readonly string[]): Map<string, number> {
  const counts = new Map(online.map((n) => [n, 0]));
  for (const id of routing.ids()) {
    const primary = routing.get(id)!.primary;
    if (primary !== null && counts.has(primary)) counts.set(primary, counts.get(primary)! + 1);
  }
  return counts;
}

function planShadowMoves(
  input: RebalanceInput,
  online: readonly string[],
  eligible: ReadonlySet<string>,
  replicas: Map<string, number>,
  taken: Set<number>,
  moves: RebalanceMove[],
): void {
  const exhausted = new Set<string>();
  while (moves.length < input.budget) {
    const from = extreme(online, replicas, (n) => !exhausted.has(n), 1);
    const to = extreme(online, replicas, (n) => eligible.has(n), -1);
    if (from === null || to === null || replicas.get(from)! - replicas.get(to)! <= 1) return;
    const shard = [...input.routing.shardsOn(from)].find((id) => {
      const route = input.routing.get(id)!;
      return !taken.has(id) && !input.busy(id) && route.primary !== from && route.primary !== null && route.writes === 'open' &&
        !route.extraShadows.includes(from) && route.primary !== to && !route.shadows.includes(to);
    });
    if (shard === undefined) {
      exhausted.add(from);
      continue;
    }
    taken.add(shard);
    moves.push({ shard, kind: 'move-shadow', from, to });
    replicas.set(from, replicas.get(from)! - 1);
    replicas.set(to, replicas.get(to)! + 1);
  }
}

function planPrimaryMoves(
  input: RebalanceInput,
  online: readonly string[],
  eligible: ReadonlySet<string>,
  primaries: Map<string, number>,
  taken: Set<number>,
  moves: RebalanceMove[],
): void {
  const exhausted = new Set<string>();
  while (moves.length < input.budget) {
    const from = extreme(online, primaries, (n) => !exhausted.has(n), 1);
    if (from === null) return;
    const fromCount = primaries.get(from)!;
    let best: { shard: number; to: string } | null = null;
    for (const id of input.routing.shardsOn(from)) {
      const route = input.routing.get(id)!;
      if (route.primary !== from || taken.has(id) || input.busy(id) || route.writes !== 'open') continue;
      for (const shadow of route.shadows) {
        if (!eligible.has(shadow) || primaries.get(shadow)! > fromCount - 2) continue;
        if (best === null || primaries.get(shadow)! < primaries.get(best.to)!) best = { shard: id, to: shadow };
      }
    }
    if (best === null) {
      exhausted.add(from);
      continue;
    }
    taken.add(best.shard);
    moves.push({ shard: best.shard, kind: 'move-primary', to: best.to });
    primaries.set(from, fromCount - 1);
    primaries.set(best.to, primaries.get(best.to)! + 1);
  }
}

/** The node with the most (direction 1) or fewest (-1) of `counts` among those passing `keep`; ties by name. */
function extreme(nodes: readonly string[], counts: Map<string, number>, keep: (n: string) => boolean, direction: 1 | -1): string | null {
  let best: string | null = null;
  for (const node of nodes) {
    if (!keep(node)) continue;
    if (best === null || (counts.get(node)! - counts.get(best)!) * direction > 0) best = node;
  }
  return best;
}

/** The spread (max − min) of replicas and of primaries over online nodes, to check convergence. */
export function loadSpread(routing: RoutingTable, cluster: ClusterMap): { replicas: number; primaries: number } {
  const online = cluster.all().filter((n) => n.liveness === 'online').map((n) => n.name);
  const replicas = online.map((n) => routing.shardsOn(n).size);
  const primaries = [...countPrimaries(routing, online).values()];
  const spread = (values: number[]): number => (values.length === 0 ? 0 : Math.max(...values) - Math.min(...values));
  return { replicas: spread(replicas), primaries: spread(primaries) };
}

/** What a repair pass reads. */
export interface RepairInput {
  routing: RoutingTable;
  cluster: ClusterMap;
  busy(shard: number): boolean;
  budget: number;
  shadowsPerShard: number;
  nowMs: number;
  repairAfterMs: number;
  /** Low-risk online nodes, fewest replicas first. */
  targets: readonly string[];
}

/**
 * Shards short of shadows (not counting extra ones, nor shadows on nodes down for longer than
 * `repairAfterMs`), each with the least-loaded low-risk node that holds no replica of it. O(shards).
 */
export function planRepairs(input: RepairInput): { shard: number; to: string }[] {
  const repairs: { shard: number; to: string }[] = [];
  const added = new Map<string, number>();
  for (const id of input.routing.ids()) {
    if (repairs.length >= input.budget) break;
    const route = input.routing.get(id)!;
    if (route.primary === null || route.writes !== 'open' || input.busy(id)) continue;
    const counted = route.shadows.filter((node) => !route.extraShadows.includes(node) && !downTooLong(input, node)).length;
    if (counted >= input.shadowsPerShard) continue;
    const holders = new Set([route.primary, ...route.shadows]);
    const to = pickLeastAdded(input.targets.filter((node) => !holders.has(node)), added);
    if (to === null) continue;
    added.set(to, (added.get(to) ?? 0) + 1);
    repairs.push({ shard: id, to });
  }
  return repairs;
}

function downTooLong(input: RepairInput, node: string): boolean {
  const info = input.cluster.get(node);
  return !info || (info.liveness !== 'online' && info.downSinceMs !== null && input.nowMs - info.downSinceMs >= input.repairAfterMs);
}

/** The first of `nodes` (already in load order) that this pass gave the fewest new replicas. */
function pickLeastAdded(nodes: readonly string[], added: ReadonlyMap<string, number>): string | null {
  let best: string | null = null;
  for (const node of nodes) if (best === null || (added.get(node) ?? 0) < (added.get(best) ?? 0)) best = node;
  return best;
}
