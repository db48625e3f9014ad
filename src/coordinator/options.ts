/**
 * The coordinator's one options object: defaults merged once, validated and clamped at start, then
 * frozen (STYLE "Configuration"). Every limit on something that grows is here by name.
 *
 * @module
 */
import assert from 'node:assert/strict';

/** Every tunable of the coordinator's decision core. */
export interface CoordinatorOptions {
  /** A shard's rollback score above this counts toward a planned switch (DESIGN §3). */
  switchThreshold: number;
  /** Scores above the threshold in a row that trigger a planned switch. */
  switchConsecutive: number;
  /**
   * How long a shard may not be switched back to a node it has left (DESIGN §3's cool-down per
   * shard). A new primary that degrades within it is still left for a third node; a shard a restart
   * touched waits the whole of it.
   */
  switchCooldownMs: number;
  /**
   * After a planned switch that found no caught-up shadow and reopened writes on the same primary,
   * how long before the shard may try again (at most `switchCooldownMs`): nothing moved, so the
   * full cool-down would only keep the shard on the node that is at risk.
   */
  switchRetryMs: number;
  /** Cluster-wide limit on planned switches in flight (failovers are never held back). */
  maxSwitchesInFlight: number;
  /** How long one step (one command) may take before it is retried. */
  stepTimeoutMs: number;
  /** Attempts of one step before the switch takes its safe way out. */
  maxStepAttempts: number;
  /**
   * A node with no score or metrics for this long is suspected dead; for a node whose metrics
   * announce a sampling interval over a third of this, three of its intervals. A hung agent is seen
   * only this way, so it must stay well under the gateway's `requestTimeoutMs` and `maxPauseMs`
   * (5 s each): at 5 s, requests sent to a primary as it hung reached their timeout before the
   * failover and were answered TIMEOUT (Mosquitto, 7 of 4,389 requests; docs/e2e.md, "Tuning").
   */
  heartbeatTimeoutMs: number;
  /** Agents refuse commands older than this; a restarted coordinator waits it out before acting. */
  commandMaxAgeMs: number;
  /** Whether pre-replication runs at all. */
  preReplicate: boolean;
  /** A node failure probability at or above this adds an extra shadow for each of its shards. */
  preReplicateThreshold: number;
  /** How long a node's risk must stay below the threshold before its extra shadows go. */
  preReplicateCooldownMs: number;
  /** Whether rebalancing runs at all. */
  rebalance: boolean;
  /** Time between two rebalance passes. */
  rebalanceIntervalMs: number;
  /** Cluster-wide limit on replica moves (rebalance and pre-replication) in flight. */
  maxMovesInFlight: number;
  /** A replica is never moved or added onto a node at or above this failure probability. */
  maxTargetRisk: number;
  /** Scores kept per shard for the timeline of an incident. */
  scoreHistoryLength: number;
  /** Steps kept per incident timeline. */
  maxIncidentSteps: number;
  /** After a switch, the old primary's node is watched this long to label the outcome. */
  outcomeHorizonMs: number;
  /** Every this often each online agent is asked for a replica report, to repair drift (0: never). */
  reportIntervalMs: number;
  /** Shards to create when the retained routing table is empty (0: wait for a routing table). */
  shardCount: number;
  /** Shadows every shard should have (not counting extra ones); a shard short of them is repaired. */
  shadowsPerShard: number;
  /** A shadow whose node has been down this long counts as missing, and a new one is added elsewhere. */
  repairAfterMs: number;
  /** Hard limit on shards, checked where a routing table enters. */
  maxShards: number;
  /** Hard limit on nodes in the cluster map, checked where a birth enters. */
  maxNodes: number;
}

/** The defaults: DESIGN §3 numbers where it gives them, operator-friendly values elsewhere. */
export const defaultCoordinatorOptions: Readonly<CoordinatorOptions> = Object.freeze({
  switchThreshold: 0.8,
  switchConsecutive: 3,
  switchCooldownMs: 300_000,
  switchRetryMs: 30_000,
  maxSwitchesInFlight: 8,
  stepTimeoutMs: 2_000,
  maxStepAttempts: 3,
  heartbeatTimeoutMs: 3_000,
  commandMaxAgeMs: 5_000,
  preReplicate: true,
  preReplicateThreshold: 0.5,
  preReplicateCooldownMs: 120_000,
  rebalance: true,
  rebalanceIntervalMs: 10_000,
  maxMovesInFlight: 4,
  maxTargetRisk: 0.5,
  scoreHistoryLength: 30,
  maxIncidentSteps: 64,
  outcomeHorizonMs: 60_000,
  reportIntervalMs: 30_000,
  shardCount: 0,
  shadowsPerShard: 1,
  repairAfterMs: 60_000,
  maxShards: 1_000_000,
  maxNodes: 100_000,
});

const probabilityKeys = ['switchThreshold', 'preReplicateThreshold', 'maxTargetRisk'] as const;

/** Merges `overrides` over the defaults, checks every value, and freezes the result. */
export function resolveCoordinatorOptions(overrides: Partial<CoordinatorOptions> = {}): Readonly<CoordinatorOptions> {
  const options: CoordinatorOptions = { ...defaultCoordinatorOptions, ...overrides };
  for (const key of probabilityKeys) {
    assert.ok(options[key] >= 0 && options[key] <= 1, `${key} must be a probability, got ${options[key]}`);
  }
  for (const [key, value] of Object.entries(options)) {
    if (typeof value === 'number') assert.ok(Number.isFinite(value) && value >= 0, `${key} must be a non-negative number`);
  }
  assert.ok(options.switchConsecutive >= 1, 'switchConsecutive must be at least 1');
  assert.ok(options.maxStepAttempts >= 1, 'maxStepAttempts must be at least 1');
  assert.ok(options.stepTimeoutMs > 0 && options.heartbeatTimeoutMs > 0, 'timeouts must be positive');
  assert.ok(options.scoreHistoryLength >= 1 && options.maxIncidentSteps >= 8, 'history limits too small');
  // A restarted coordinator must outwait every command its previous life may still have in flight.
  assert.ok(options.commandMaxAgeMs > 0, 'commandMaxAgeMs must be positive');
  return Object.freeze(options);
}
