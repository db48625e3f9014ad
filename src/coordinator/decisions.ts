/**
 * The pure leaves of the coordinator's decisions (DESIGN §3): the run of high scores, whether a
 * switch may start, and which replica becomes the primary. They take plain values and return plain
 * values, so they are tested without any clock or transport.
 *
 * @module
 */
import type { CoordinatorOptions } from './options.js';

/**
 * The run of scores above the threshold after one more score: a score at or below the threshold
 * ends the run, so a noisy score that dips once does not switch (hysteresis).
 */
export function nextStreak(streak: number, p: number, switchThreshold: number): number {
  return p > switchThreshold ? streak + 1 : 0;
}

/**
 * How a shard's last switch or failover ended, as the cool-down reads it: it took the primary role
 * from a known node (`left`; that node is then barred as a target, see {@link coolDownAvoids}),
 * reopened on the same primary (`stayed`), or ended with no node known to have been left
 * (`unknown`: a coordinator restart touched the shard, or it had no primary).
 */
export type LastSwitch = 'left' | 'stayed' | 'unknown';

/** What a planned switch waits for, if anything. */
export type SwitchBlock = 'automation-paused' | 'busy' | 'cool-down' | 'limit' | null;

/**
 * Whether an automatic planned switch of a shard may start now, and if not, why.
 *
 * The per-shard cool-down is against flapping: a shard must not go back to the node it has just
 * left. So while it runs, a switch that left a known node (`left`) does not block the next one; the
 * shard only may not return to a node it left within the cool-down ({@link coolDownAvoids}). A
 * primary that starts degrading a few seconds after it took the shard over is escaped as soon as its
 * own scores say so, to any other healthy shadow. Without a known left node (`unknown`: a restart
 * touched the shard) the whole cool-down blocks, and after a switch that reopened on the same
 * primary (`stayed`) the shorter `switchRetryMs` does.
 */
export function switchBlock(input: {
  automationPaused: boolean;
  busy: boolean;
  lastSwitchMs: number;
  lastSwitch: LastSwitch;
  nowMs: number;
  switchesInFlight: number;
  options: Pick<CoordinatorOptions, 'switchCooldownMs' | 'switchRetryMs' | 'maxSwitchesInFlight'>;
}): SwitchBlock {
  if (input.automationPaused) return 'automation-paused';
  if (input.busy) return 'busy';
  const sinceMs = input.nowMs - input.lastSwitchMs;
  if (input.lastSwitch === 'stayed') {
    if (sinceMs < Math.min(input.options.switchRetryMs, input.options.switchCooldownMs)) return 'cool-down';
  } else if (input.lastSwitch === 'unknown' && sinceMs < input.options.switchCooldownMs) {
    return 'cool-down';
  }
  if (input.switchesInFlight >= input.options.maxSwitchesInFlight) return 'limit';
  return null;
}

/**
 * The nodes an automatic switch of the shard must not pick as its target now: those a switch or
 * failover took the shard's primary role from within the cool-down (`leftAtMs`: node → when).
 * Together with {@link switchBlock} this bounds a shard to one switch per replica in a cool-down,
 * however its scores move: each switch leaves a node it may not return to.
 */
export function coolDownAvoids(input: { leftAtMs: ReadonlyMap<string, number>; nowMs: number; options: Pick<CoordinatorOptions, 'switchCooldownMs'> }): Set<string> {
  const avoid = new Set<string>();
  for (const [node, atMs] of input.leftAtMs) if (input.nowMs - atMs < input.options.switchCooldownMs) avoid.add(node);
  return avoid;
}

/**
 * The shadows an automatic switch may move a shard to: online, not barred by the cool-down
 * ({@link coolDownAvoids}), and with a node failure probability under `maxRisk`. The coordinator
 * starts a switch only when there is one; the switch then takes the healthiest caught up of them
 * ({@link healthiestCaughtUp}).
 */
export function eligibleTargets(shadows: readonly string[], avoid: ReadonlySet<string>, cluster: { isOnline(node: string): boolean; risk(node: string): number }, maxRisk: number): string[] {
  return shadows.filter((node) => !avoid.has(node) && cluster.isOnline(node) && cluster.risk(node) < maxRisk);
}

/** A shadow that could become the primary. */
export interface Candidate {
  node: string;
  /** Its node's failure probability. */
  risk: number;
  /** Its last reported received lsn, if known. */
  receivedLsn?: number;
  /** The epoch of its last received entry, if known. */
  lastEpoch?: number;
  /** False when its last report says it is not receiving (not a shadow): it cannot catch up by itself. */
  receiving?: boolean;
}

/** A candidate from a node's risk and its last replica report, if any. */
export function candidate(node: string, risk: number, report?: { role: string; receivedLsn: number; lastEpoch?: number }): Candidate {
  if (!report) return { node, risk };
  return { node, risk, receivedLsn: report.receivedLsn, receiving: report.role === 'shadow', lastEpoch: report.lastEpoch ?? 0 };
}

/**
 * The healthiest caught-up shadow of `candidates` (already filtered by the caller: a switch takes
 * {@link eligibleTargets}, a failover every usable shadow): those known to have received through
 * `throughLsn` come first, then those not known to lag, then those lagging but receiving, then
 * those not receiving at all; within each, the lowest node failure probability, then the name (so
 * the choice is deterministic). Null when there are no candidates.
 */
export function healthiestCaughtUp(candidates: readonly Candidate[], throughLsn: number): Candidate | null {
  let best: Candidate | null = null;
  let bestRank = Infinity;
  for (const option of candidates) {
    const rank = option.receivedLsn === undefined ? 1 : option.receivedLsn >= throughLsn ? 0 : option.receiving === false ? 3 : 2;
    if (best === null || rank < bestRank || (rank === bestRank && compareRisk(option, best) < 0)) {
      best = option;
      bestRank = rank;
    }
  }
  return best;
}

/**
 * The replica with the most recent log (unplanned failover): the highest epoch of its last entry,
 * then the highest received lsn. It holds every acknowledged write, because a write is acknowledged
 * only once a shadow received it, shadows receive in lsn order, and a log with entries of the newest
 * epoch holds the whole prefix its primary was promoted with. Ties go to the healthiest node.
 */
export function highestReceived<T extends Candidate & { receivedLsn: number }>(candidates: readonly T[]): T | null {
  let best: T | null = null;
  for (const option of candidates) {
    const epochOrder = (option.lastEpoch ?? 0) - (best?.lastEpoch ?? 0);
    const newer = best === null || epochOrder > 0 || (epochOrder === 0 && option.receivedLsn > best.receivedLsn);
    if (newer || (epochOrder === 0 && option.receivedLsn === best!.receivedLsn && compareRisk(option, best!) < 0)) {
      best = option;
    }
  }
  return best;
}

function compareRisk(a: Candidate, b: Candidate): number {
  if (a.risk !== b.risk) return a.risk - b.risk;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}
