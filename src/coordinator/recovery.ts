/**
 * The pure verdicts behind restart recovery and the periodic replica reports: given the routing
 * entry of a shard and what its replicas report, what must happen. The core acts on them.
 *
 * @module
 */
import type { ReplicaReport, RoutingShard } from './types.js';

/** After a coordinator restart, for one shard: keep it, reopen its paused writes, or fail it over. */
export type RestartVerdict = 'keep' | 'reopen' | 'failover';

/**
 * A shard whose routing primary still accepts writes at the routing epoch (and no replica is primary
 * at a newer one) is kept, and reopened if a switch had paused it: the fence that switch sent has
 * expired by now, so it can never land. Anything else needs a failover, which adopts a newer primary,
 * completes a fenced switch, or promotes the most recent log. `highestEpoch` is the newest epoch any
 * replica reported, also in reports since cleared (`ShardState.maxEpoch`): a promotion the previous
 * life made just before it stopped counts even when its report did not come again.
 */
export function restartVerdict(route: Readonly<RoutingShard>, reports: ReadonlyMap<string, ReplicaReport>, highestEpoch = 0): RestartVerdict {
  const primaryReport = route.primary === null ? undefined : reports.get(route.primary);
  const primaryHolds = route.available && primaryReport?.role === 'primary' && primaryReport.epoch === route.epoch;
  // A replica at a newer epoch (promoted, or fenced by a failover the previous life did not finish)
  // cannot follow the routing primary any more: only a failover at a fresh epoch brings it back.
  const newer = highestEpoch > route.epoch || [...reports.values()].some((report) => report.epoch > route.epoch);
  if (!primaryHolds || newer) return 'failover';
  return route.writes === 'paused' ? 'reopen' : 'keep';
}

/** For one replica of a running shard, from its agent's report: fine, fail the shard over, or follow again. */
export type ReplicaVerdict = 'ok' | 'failover' | 'follow';

/**
 * A routing primary that does not report itself primary at the routing epoch (its agent restarted,
 * or lost the replica) means a failover; a shadow that is not following at the routing epoch (it
 * missed a follow, or restarted) is told to follow again.
 */
export function replicaVerdict(route: Readonly<RoutingShard>, node: string, report: ReplicaReport | undefined): ReplicaVerdict {
  // A replica promoted or fenced past the routing epoch (by a coordinator life that stopped before
  // publishing it) can never follow at the routing epoch: a failover moves the shard past it.
  if (report && report.epoch > route.epoch) return 'failover';
  if (route.primary === node) return report && report.role === 'primary' && report.epoch === route.epoch ? 'ok' : 'failover';
  if (route.primary === null) return 'ok';
  return report && report.role === 'shadow' && report.epoch >= route.epoch ? 'ok' : 'follow';
}
