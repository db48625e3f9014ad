/**
 * The coordinator core's inputs and outputs. Payload types mirror the wire formats of DESIGN.md §5.2
 * field for field, so the MQTT wiring can pass decoded, schema-checked messages straight in and send
 * the intents straight out (it adds the signature to commands; the core never holds the cluster key).
 *
 * @module
 */
import type { CalibrateArgs, CalibrationParameters, ScoreFeatures } from '../protocol/index.js';
import type { HistoryPair } from './failure-history.js';
import type { Incident } from './incidents/incident.js';

export type { CalibrationParameters, ScoreFeatures };

/**
 * One series that drove a score: the explanation every score carries (DESIGN §4), named as the
 * protocol's `ExplanationEntry` (src/protocol/control.ts). The core needs the first five fields;
 * the others travel along into incidents when the agent sent them.
 */
export interface ScoreContribution {
  series: string;
  value: number;
  forecast: number;
  threshold: number;
  share: number;
  /** The bounds of the forecast's prediction interval. */
  lower?: number;
  upper?: number;
  /** How far ahead the forecast is, in seconds, when short of the score's horizon. */
  forecastS?: number;
  /** Which side of the threshold is a breach (absent: above). */
  direction?: 'above' | 'below';
  breachProbability?: number;
  anomalyLikelihood?: number;
}

/** A probability with its explanation, for a node or a shard. */
export interface ScoreEntry {
  p: number;
  top: ScoreContribution[];
  /** What `p` was calibrated from, when the agent sent it; the failure history is fitted on these. */
  features?: ScoreFeatures;
}

/** The calibrations the coordinator fitted on its failure history: a `calibrate` command's arguments without the session. */
export type FittedCalibration = Omit<CalibrateArgs, 'session'>;

/** `node/<node>/score`: the node's failure probability and each local shard's rollback score. */
export interface ScoreMessage {
  ts: number;
  horizonS: number;
  node: ScoreEntry;
  shards: Record<string, ScoreEntry>;
}

/** `node/<node>/metrics`: only its arrival matters to the coordinator (it counts as a heartbeat). */
export interface MetricsMessage {
  ts: number;
  intervalMs: number;
  series: Record<string, number>;
}

/** `node/<node>/state` birth, retained. */
export interface NodeBirth {
  state: 'online';
  session: string;
  ts: number;
  version: string;
  profile: string;
  dataUrl: string;
}

/** `node/<node>/state` will: the same topic, published by the broker when the session is lost. */
export interface NodeWill {
  state: 'offline';
  session: string;
}

/** Either payload of `node/<node>/state`. */
export type NodeStateMessage = NodeBirth | NodeWill;

/**
 * The commands the coordinator sends on `node/<node>/cmd`. Every command carries `args.session`,
 * the agent session it is meant for, so a restarted agent refuses commands sent to its previous life.
 * - `fence`: raise the replica's epoch to `epoch`; a primary promoted at a lower epoch stops
 *   accepting writes, a shadow stops receiving (both become `recovering` until told to promote or
 *   follow), and it reports its last lsn. Idempotent.
 * - `promote`: become primary at `epoch` once received through `args.throughLsn`, applying the whole
 *   tail at once. Refused (`STALE_EPOCH`) if the replica has seen a higher epoch, and (`DIVERGED`)
 *   if its entry at `throughLsn` is not of epoch `args.throughEpoch` (when given).
 * - `follow`: become (or create) a shadow of `args.primary` at `epoch`, cutting a divergent tail to
 *   a conflict file. Refused if the replica has seen a higher epoch.
 * - `drop`: delete the replica. Refused if it accepts writes.
 * - `report`: answer a {@link ReplicaReportResult} for `shard`, or for every local replica.
 * - `calibrate`: score with `args.node` and `args.shard`, the calibrations fitted on the failure history.
 */
export type CommandType = 'fence' | 'promote' | 'follow' | 'drop' | 'report' | 'calibrate';

/** `node/<node>/cmd` without `sig`, which the wiring layer adds when it signs. */
export interface CommandMessage {
  cmdId: string;
  type: CommandType;
  shard?: number;
  epoch?: number;
  args: Record<string, unknown>;
  ts: number;
}

/** A typed failure inside a command result. */
export interface CommandError {
  code: string;
  message: string;
  /** With `STALE_EPOCH`: the epoch the replica (or, for a shard it does not hold, a fence it got) is at. */
  epoch?: number;
}

/** `node/<node>/cmd-result`. */
export interface CommandResultMessage {
  cmdId: string;
  ok: boolean;
  result?: unknown;
  error?: CommandError;
}

/**
 * A replica's role as its agent sees it. `primary` means it accepts writes at `epoch`; a fenced
 * primary, or any replica after an agent restart, is `recovering` until told to promote or follow.
 */
export type ReplicaRole = 'primary' | 'shadow' | 'recovering';

/** One replica's state: the result of fence, promote and follow, and an entry of `report`. */
export interface ReplicaReport {
  shard: number;
  role: ReplicaRole;
  epoch: number;
  receivedLsn: number;
  appliedLsn: number;
  /**
   * The epoch of the last received entry (0 for an empty log). Logs compare by (lastEpoch,
   * receivedLsn): a longer log of an older epoch may end in a tail nobody acknowledged.
   */
  lastEpoch?: number;
}

/** The result of a `report` command. */
export interface ReplicaReportResult {
  replicas: ReplicaReport[];
}

/** One shard of the routing table. `available` and `extraShadows` are additions to §5.2. */
export interface RoutingShard {
  id: number;
  epoch: number;
  primary: string | null;
  shadows: string[];
  writes: 'open' | 'paused';
  /** Node → data port URL, for the primary and every shadow. */
  dataUrls: Record<string, string>;
  /** False when the shard has no replica left to serve it; gateways answer `UNAVAILABLE`. */
  available: boolean;
  /** Shadows added by pre-replication, so a restarted coordinator can remove them later. */
  extraShadows: string[];
  /**
   * Old primaries set aside by a switch: they serve nothing but still hold a log, so a failover asks
   * them too, and a restarted coordinator must not forget them. Gateways ignore this field.
   */
  recovering: string[];
  /**
   * False while the shard's creation has not opened its writes (no write was ever acknowledged, so a
   * replica may be created empty); absent once they opened (`Routing.update` clears it).
   */
  created?: false;
}

/** `routing`, retained: the version only goes up. */
export interface RoutingMessage {
  version: number;
  ts: number;
  shards: RoutingShard[];
}

/** What the coordinator's core reacts to. Node names come from the topic. */
export type CoordinatorEvent =
  | { kind: 'node-state'; node: string; message: NodeStateMessage }
  | { kind: 'score'; node: string; message: ScoreMessage }
  | { kind: 'metrics'; node: string; message: MetricsMessage }
  | { kind: 'cmd-result'; node: string; message: CommandResultMessage }
  | { kind: 'routing'; message: RoutingMessage }
  | { kind: 'tick' }
  /** The coordinator's own broker connection went down or came back: silence heard meanwhile says nothing about the nodes. */
  | { kind: 'link'; connected: boolean }
  | { kind: 'manual-switch'; shard: number; toNode?: string }
  | { kind: 'set-automation'; paused: boolean }
  | { kind: 'calibration'; calibration: FittedCalibration };

/** What the core asks its wiring to do; it performs no I/O itself. */
export type CoordinatorIntent =
  | { kind: 'send-command'; node: string; command: CommandMessage }
  | { kind: 'publish-routing'; routing: RoutingMessage }
  | { kind: 'publish-incident'; incident: Incident }
  | { kind: 'record-history'; pair: HistoryPair }
  | { kind: 'log'; level: 'info' | 'warn'; code: string; message: string };

/** A deterministic source of identifiers, injected so simulated runs repeat exactly. */
export interface IdSource {
  /** A new identifier, unique across coordinator restarts, that starts with `prefix`. */
  next(prefix: string): string;
}

/** Identifiers `<prefix>-<incarnation>-<counter>`; the incarnation keeps restarts apart. */
export class CounterIds implements IdSource {
  private counter = 0;
  constructor(private readonly incarnation: string) {}
  /** The next identifier for `prefix`. */
  next(prefix: string): string {
    this.counter++;
    return `${prefix}-${this.incarnation}-${this.counter}`;
  }
}
