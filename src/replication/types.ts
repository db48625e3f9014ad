/** The public shapes of ShardHost's reports and command results. */
import type { ReplicaRole } from '../store/index.js';

/** Where a shadow streams from. */
export interface PrimaryAddress {
  /** The primary's node id. */
  node: string;
  /** Its data port, `ws://host:port` or `wss://host:port`. */
  dataUrl: string;
}

/** What the primary knows of one shadow of a shard. */
export interface ShadowProgress {
  node: string;
  connected: boolean;
  /** Highest lsn the shadow acknowledged as durably received (at this primary's epoch). */
  receivedLsn: number;
  appliedLsn: number;
  /** `snapshot`, `catch-up` or `live`; `idle` when disconnected. */
  phase: 'snapshot' | 'catch-up' | 'live' | 'idle';
}

/** One replica as `report()` shows it (the coordinator's and `foreshard status`'s view). */
export interface ShardReport {
  shard: number;
  role: ReplicaRole;
  epoch: number;
  /** Set once the replica was demoted or told to follow: the primary it knows (null: none). */
  primary: string | null;
  receivedLsn: number;
  appliedLsn: number;
  lastLsn: number;
  /** Shadow: ms between now and the ts of the newest received frame when behind (0 when caught up); primary: 0. */
  lagMs: number;
  /** Frames and bytes received but not applied: the rollback window. */
  rollbackWindowFrames: number;
  rollbackWindowBytes: number;
  /** The conflict file written by the last cut of this replica's log (rejoin or resync), if any. */
  lastConflictFile?: string;
  /** Shadow: the state of its link to the primary. */
  link?: 'connecting' | 'syncing' | 'streaming' | 'installing-snapshot' | 'stopped';
  /** Primary: its shadows. */
  shadows?: ShadowProgress[];
}

/** Counters for /metrics: cumulative since start. */
export interface ReplicationStats {
  shards: number;
  connections: number;
  framesSent: number;
  /** Bytes of replication frames sent (CBOR), and what the literal values would have cost. */
  frameBytesSent: number;
  frameBytesLiteralEquivalent: number;
  deltaFramesSent: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  framesReceived: number;
  frameBytesReceived: number;
  acksReceived: number;
  resyncsSent: number;
  resyncsServed: number;
  requests: number;
  requestErrors: number;
  writesAcknowledged: number;
  writesUnavailable: number;
  writesTimedOut: number;
  /** Payloads dropped as malformed or out of place, by reason. */
  badFrames: number;
  connectionsClosedForBackpressure: number;
  conflictFiles: number;
}

/** The result of a command method: what the coordinator's cmd-result carries. */
export interface ShardCommandOutcome {
  epoch: number;
  lastLsn?: number;
  receivedLsn?: number;
  appliedLsn?: number;
  /** The conflict or rollback file written, if any. */
  savedTo?: string;
}

/**
 * One replica as the coordinator reads it (src/protocol `ReplicaReport`): `primary` while it takes
 * writes, `shadow` while it follows a primary, and `recovering` otherwise (fenced, or not yet told
 * what to do since the agent restarted).
 */
export interface ReplicaState {
  shard: number;
  role: 'primary' | 'shadow' | 'recovering';
  epoch: number;
  receivedLsn: number;
  appliedLsn: number;
  /** The epoch of the entry at `receivedLsn`; 0 for an empty log. */
  lastEpoch: number;
  /** The conflict file a cut tail went to, when a follow cut one. */
  savedTo?: string;
}

/** What `promoteAt` needs besides the epoch. */
export interface PromoteRequest {
  throughLsn: number;
  throughEpoch?: number;
  create?: boolean;
}
