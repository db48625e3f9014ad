/**
 * The MQTT control-plane payloads of DESIGN.md §5.2, except commands (see `commands.ts`): node and
 * coordinator births and wills, metrics, rollback scores with their explanations, the routing table
 * and incidents. Each has a TypeScript type and a schema checked against it.
 */
import {
  dataUrlSchema,
  epochSchema,
  idSchema,
  lsnSchema,
  shardIdSchema,
  shardKeySchema,
  textSchema,
  timestampMsSchema,
} from './common.js';
import {
  MAX_EXPLANATION_ENTRIES,
  MAX_INCIDENT_SCORE_SAMPLES,
  MAX_INCIDENT_TIMELINE_EVENTS,
  MAX_SERIES_NAME_LENGTH,
  MAX_SERIES_PER_METRICS,
  MAX_SHADOWS_PER_SHARD,
  MAX_SHARDS,
  MAX_SHARDS_PER_SCORE,
  MAX_ID_LENGTH,
} from './limits.js';
import {
  array,
  boolean,
  float,
  literal,
  nullable,
  object,
  oneOf,
  optional,
  record,
  refine,
  string,
  uint,
  variants,
  type Schema,
} from './schema.js';

// ---------------------------------------------------------------- births and wills

/** A node's birth, retained on `node/<node>/state`. */
export interface NodeBirth {
  state: 'online';
  /** Random per process start; a will only counts for the session it names. */
  session: string;
  ts: number;
  /** The agent's foreshard version. */
  version: string;
  /** The firmware profile name the agent runs with. */
  profile: string;
  /** The agent's data port, `ws://host:port` or `wss://host:port`. */
  dataUrl: string;
}

/** A node's will (or clean shutdown), on the same retained topic. */
export interface NodeWill {
  state: 'offline';
  session: string;
  /** Absent in a will (the broker publishes it later); present on a clean shutdown. */
  ts?: number;
}

/** The payload of `node/<node>/state`. */
export type NodeState = NodeBirth | NodeWill;

/** Whether the coordinator acts on scores by itself (`foreshard pause-automation`). */
export type AutomationState = 'running' | 'paused';

/** The coordinator's birth, retained on `coordinator/state`. */
export interface CoordinatorBirth {
  state: 'online';
  session: string;
  ts: number;
  version: string;
  /** Absent means running. */
  automation?: AutomationState;
  /**
   * This coordinator's generation: one more than the last one it found retained here. Epochs it
   * allocates start above any an earlier generation used, so it must only go up.
   */
  generation?: number;
}

/** The coordinator's will (or clean shutdown): a node's, plus its generation, so the next one still counts up from it. */
export interface CoordinatorWill extends NodeWill {
  generation?: number;
}

/** The payload of `coordinator/state`: a birth or a will, like a node's. */
export type CoordinatorState = CoordinatorBirth | CoordinatorWill;

const sessionSchema = string({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: /^[A-Za-z0-9._-]+$/, patternName: 'session id' });
const willSchema: Schema<NodeWill> = object({ state: literal('offline'), session: sessionSchema, ts: optional(timestampMsSchema) });

/** Schema of {@link NodeState}. */
export const nodeStateSchema: Schema<NodeState> = variants('state', {
  online: object({
    state: literal('online'),
    session: sessionSchema,
    ts: timestampMsSchema,
    version: textSchema,
    profile: textSchema,
    dataUrl: dataUrlSchema,
  }),
  offline: willSchema,
});

/** Schema of {@link CoordinatorState}. */
export const coordinatorStateSchema: Schema<CoordinatorState> = variants('state', {
  online: object({
    state: literal('online'),
    session: sessionSchema,
    ts: timestampMsSchema,
    version: textSchema,
    automation: optional(oneOf(['running', 'paused'] as const)),
    generation: optional(uint()),
  }),
  offline: object({ state: literal('offline'), session: sessionSchema, ts: optional(timestampMsSchema), generation: optional(uint()) }),
});

// ---------------------------------------------------------------- metrics

/** A series name, e.g. `cpu.utilisation` or `store.latencyMsP99`. */
export const seriesNameSchema = string({ minLength: 1, maxLength: MAX_SERIES_NAME_LENGTH, pattern: /^[A-Za-z0-9][A-Za-z0-9._:-]*$/, patternName: 'series name' });

/** The payload of `node/<node>/metrics`: one sample of every series. */
export interface Metrics {
  ts: number;
  /** The sampling interval the samples were taken at. */
  intervalMs: number;
  /** Series name to its latest value. Missing sources are left out, never NaN. */
  series: Record<string, number>;
}

/** Schema of {@link Metrics}. */
export const metricsSchema: Schema<Metrics> = object({
  ts: timestampMsSchema,
  intervalMs: uint(),
  series: record(seriesNameSchema, float(), MAX_SERIES_PER_METRICS),
});

// ---------------------------------------------------------------- scores and explanations

/** One series' contribution to a rollback score or a failure probability (DESIGN.md §4). */
export interface ExplanationEntry {
  /** The series name, as in metrics. */
  series: string;
  /** Its latest value. */
  value: number;
  /** Its point forecast at the horizon. */
  forecast: number;
  /** The lower and upper bounds of the forecast's prediction interval. */
  lower: number;
  upper: number;
  /**
   * How far ahead `forecast` is, in seconds, when that is short of the score's `horizonS`: a regime
   * change's forecast reaches only as far as the change it has seen (docs/scoring.md §2.1). Absent:
   * the forecast is at the horizon.
   */
  forecastS?: number;
  /** The SLO threshold from the profile. */
  threshold: number;
  /** Which side of the threshold is a breach (absent: above). */
  direction?: 'above' | 'below';
  /** The probability that the series breaches within the horizon, 0..1. */
  breachProbability?: number;
  /** How unusual the recent residuals are, 0..1. */
  anomalyLikelihood?: number;
  /** Its share of the score, 0..1; the shares of one `top` list sum to at most 1. */
  share: number;
}

/**
 * The features a probability was calibrated from (docs/scoring.md §4), each 0..1: the noisy-OR of
 * the series' breach probabilities, the largest log-scaled anomaly likelihood, and for a shard its
 * node's failure probability. The coordinator keeps them with each incident, so its failure history
 * can refit the calibration.
 */
export interface ScoreFeatures {
  breach: number;
  anomaly: number;
  node?: number;
}

/** A probability with its explanation: the top contributing series, largest share first. */
export interface ExplainedProbability {
  /** Calibrated probability of an SLO breach (shard) or a failure (node) within the horizon, 0..1. */
  p: number;
  top: ExplanationEntry[];
  /** What `p` was calibrated from; absent from agents that predate it. */
  features?: ScoreFeatures;
}

/** The payload of `node/<node>/score`. */
export interface Score {
  ts: number;
  /** The forecast horizon H, in seconds. */
  horizonS: number;
  /** The node's failure probability. */
  node: ExplainedProbability;
  /** Each shard this node holds, by decimal shard id, with its rollback score. */
  shards: Record<string, ExplainedProbability>;
}

const probabilitySchema = float({ min: 0, max: 1 });

/** Schema of {@link ExplanationEntry}. */
export const explanationEntrySchema: Schema<ExplanationEntry> = object({
  series: seriesNameSchema,
  value: float(),
  forecast: float(),
  lower: float(),
  upper: float(),
  forecastS: optional(float({ min: 0 })),
  threshold: float(),
  direction: optional(oneOf(['above', 'below'] as const)),
  breachProbability: optional(probabilitySchema),
  anomalyLikelihood: optional(probabilitySchema),
  share: probabilitySchema,
});

/** Schema of {@link ScoreFeatures}. */
export const scoreFeaturesSchema: Schema<ScoreFeatures> = object({
  breach: probabilitySchema,
  anomaly: probabilitySchema,
  node: optional(probabilitySchema),
});

/** Schema of {@link ExplainedProbability}. */
export const explainedProbabilitySchema: Schema<ExplainedProbability> = object({
  p: probabilitySchema,
  top: array(explanationEntrySchema, MAX_EXPLANATION_ENTRIES),
  features: optional(scoreFeaturesSchema),
});

const scoreShardKeySchema = refine(shardKeySchema, (key) => (Number(key) < MAX_SHARDS ? undefined : `shard id ${key} is not below ${MAX_SHARDS}`));

/** Schema of {@link Score}. */
export const scoreSchema: Schema<Score> = object({
  ts: timestampMsSchema,
  horizonS: uint(),
  node: explainedProbabilitySchema,
  shards: record(scoreShardKeySchema, explainedProbabilitySchema, MAX_SHARDS_PER_SCORE),
});

// ---------------------------------------------------------------- routing

/**
 * Whether a shard takes writes. `paused` during a switch (gateways buffer); `unavailable` when the
 * shard has no replica that can serve (gateways answer UNAVAILABLE at once).
 */
export type WritesState = 'open' | 'paused' | 'unavailable';

/** One shard's entry in the routing table. */
export interface ShardRoute {
  id: number;
  epoch: number;
  /** The node serving reads and writes, or null when none can. */
  primary: string | null;
  shadows: string[];
  writes: WritesState;
  /** The data port URL of every node named in `primary` and `shadows`. */
  dataUrls: Record<string, string>;
  /**
   * False when no replica is left to serve the shard (then `writes` is `unavailable`). Absent in
   * tables of older coordinators: read it as `writes !== 'unavailable'`.
   */
  available?: boolean;
  /** Shadows added by pre-replication (a subset of `shadows`), so a restarted coordinator can remove them later. */
  extraShadows?: string[];
  /** Old primaries set aside by a switch: they serve nothing but still hold a log. Gateways ignore them. */
  recovering?: string[];
  /**
   * False while the shard's creation has not opened its writes: no write was ever acknowledged, so a
   * replica may still be created empty. Absent once writes opened (and in older tables). Gateways ignore it.
   */
  created?: boolean;
}

/** The payload of `routing`: retained, and `version` only goes up. */
export interface RoutingTable {
  version: number;
  ts: number;
  /** The cluster's fixed shard count S; keys hash to 0..S-1 (README). */
  shardCount: number;
  shards: ShardRoute[];
}

/** Schema of {@link ShardRoute}. */
export const shardRouteSchema: Schema<ShardRoute> = refine(
  object({
    id: shardIdSchema,
    epoch: epochSchema,
    primary: nullable(idSchema),
    shadows: array(idSchema, MAX_SHADOWS_PER_SHARD),
    writes: oneOf(['open', 'paused', 'unavailable'] as const),
    dataUrls: record(idSchema, dataUrlSchema, MAX_SHADOWS_PER_SHARD + 1),
    available: optional(boolean()),
    extraShadows: optional(array(idSchema, MAX_SHADOWS_PER_SHARD)),
    recovering: optional(array(idSchema, MAX_SHADOWS_PER_SHARD)),
    created: optional(boolean()),
  }),
  (route) => {
    const named = route.primary === null ? route.shadows : [route.primary, ...route.shadows];
    if (new Set(named).size !== named.length) return `shard ${route.id} names a node twice`;
    const missing = named.find((node) => !Object.hasOwn(route.dataUrls, node));
    return missing === undefined ? undefined : `shard ${route.id} has no dataUrl for node ${missing}`;
  },
);

/** Schema of {@link RoutingTable}. */
export const routingTableSchema: Schema<RoutingTable> = refine(
  object({
    version: uint(),
    ts: timestampMsSchema,
    shardCount: uint(MAX_SHARDS),
    shards: array(shardRouteSchema, MAX_SHARDS),
  }),
  (table) => {
    const seen = new Set<number>();
    for (const route of table.shards) {
      if (route.id >= table.shardCount) return `shard id ${route.id} is not below shardCount ${table.shardCount}`;
      if (seen.has(route.id)) return `shard ${route.id} appears twice`;
      seen.add(route.id);
    }
    return undefined;
  },
);

// ---------------------------------------------------------------- incidents

/** What happened to a shard. */
export type IncidentKind = 'planned-switch' | 'manual-switch' | 'failover' | 'rollback' | 'pre-replication' | 'unavailable';
/** Where the incident stands. */
export type IncidentOutcome = 'in-progress' | 'completed' | 'aborted' | 'failed';

/** One step of an incident's timeline. */
export interface TimelineEvent {
  ts: number;
  /** A short stable name, e.g. `paused`, `fenced`, `promoted`, `routed`, `timeout`. */
  event: string;
  detail?: string;
}

/** The payload of `incident/<id>` (also stored on disk as JSON). */
export interface Incident {
  id: string;
  kind: IncidentKind;
  outcome: IncidentOutcome;
  /** When the incident opened. */
  ts: number;
  shard?: number;
  /** The old and the new primary, when the incident moved one. */
  fromNode?: string;
  toNode?: string;
  fromEpoch?: number;
  toEpoch?: number;
  /** The last lsn the old primary reported when fenced. */
  lastLsn?: number;
  /** The root-cause report: the score that triggered it and the series that drove it. */
  rootCause: { summary: string; score?: number; top: ExplanationEntry[] };
  /** The score history before the incident, oldest first. */
  scores: { ts: number; p: number }[];
  timeline: TimelineEvent[];
  /** When it closed; absent while in progress. */
  closedTs?: number;
  /** The coordinator's finer result (`switched`, `failed-over`, `adopted`, `reopened`, `abandoned`, `unavailable`). */
  result?: string;
  /** Whether the old primary's node failed within the horizon after a planned switch; absent until known. */
  nodeFailedWithinHorizon?: boolean;
  /**
   * Whether, within the horizon, the old primary's node failed or a series that drove the score
   * was seen past its threshold on it: the label the shard calibration is fitted on; absent until known.
   */
  breachedWithinHorizon?: boolean;
  /** The features of the shard's and its node's last scores before the incident. */
  features?: { shard?: ScoreFeatures; node?: ScoreFeatures };
}

const eventNameSchema = string({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: /^[a-z0-9][a-z0-9-]*$/, patternName: 'event name' });

/** Schema of {@link Incident}. */
export const incidentSchema: Schema<Incident> = object({
  id: idSchema,
  kind: oneOf(['planned-switch', 'manual-switch', 'failover', 'rollback', 'pre-replication', 'unavailable'] as const),
  outcome: oneOf(['in-progress', 'completed', 'aborted', 'failed'] as const),
  ts: timestampMsSchema,
  shard: optional(shardIdSchema),
  fromNode: optional(idSchema),
  toNode: optional(idSchema),
  fromEpoch: optional(epochSchema),
  toEpoch: optional(epochSchema),
  lastLsn: optional(lsnSchema),
  rootCause: object({ summary: textSchema, score: optional(probabilitySchema), top: array(explanationEntrySchema, MAX_EXPLANATION_ENTRIES) }),
  scores: array(object({ ts: timestampMsSchema, p: probabilitySchema }), MAX_INCIDENT_SCORE_SAMPLES),
  timeline: array(object({ ts: timestampMsSchema, event: eventNameSchema, detail: optional(textSchema) }), MAX_INCIDENT_TIMELINE_EVENTS),
  closedTs: optional(timestampMsSchema),
  result: optional(eventNameSchema),
  nodeFailedWithinHorizon: optional(boolean()),
  breachedWithinHorizon: optional(boolean()),
  features: optional(object({ shard: optional(scoreFeaturesSchema), node: optional(scoreFeaturesSchema) })),
});
