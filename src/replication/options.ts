/**
 * ShardHost configuration: one typed options object, defaults merged once, validated, frozen.
 * Every limit here is enforced where data enters and listed in docs/replication.md.
 */
import assert from 'node:assert/strict';
import { systemClock, type Clock, type FsyncPolicy, type ReplicaOptions, type StoreChaosHooks, type StoreLogger } from '../store/index.js';
import { DEFAULT_CLIENT_LIMITS, type ClientLimits } from '../protocol/index.js';
import type { StoreMetricsRecorder } from '../metrics/store-metrics.js';

/**
 * Fault hooks an agent may give its shard host (its chaos controller, src/chaos/): the store's
 * fsync delay for every replica opened here, and a verdict per data port request.
 */
export interface ReplicationChaosHooks extends StoreChaosHooks {
  /** True when this gateway request should fail with an injected I/O error. */
  shouldFailRequest(): boolean;
}

/** TLS for the data port (uWS SSLApp): PEM file paths. */
export interface DataPortTls {
  keyFile: string;
  certFile: string;
}

export interface ShardHostOptions {
  /** Root data directory; replicas live under `<dataDir>/shards/<id>/`. */
  dataDir: string;
  /** This node's id: sent in `hello` when following, returned in `welcome`, and named in MOVED. */
  node: string;
  /** Interface and port of the data port; port 0 picks a free one (see `ShardHost.port`). */
  host: string;
  port: number;
  tls?: DataPortTls;
  /** Auth is on when set: every `hello` must carry a bearer token that verifies with this key. */
  tokenKey?: Uint8Array;
  /** The token this node presents when it follows a primary (auth on at the primary). */
  token?: string;
  /** Shadows that must hold a write durably before the primary acknowledges it (DESIGN.md §2). */
  minShadowAcks: number;
  /** How long a write waits for its shadow acks before failing UNAVAILABLE or TIMEOUT. */
  ackTimeoutMs: number;
  /** Shadow apply delay for replicas created here (the rollback window), 0..60,000 ms. */
  applyDelayMs: number;
  fsyncPolicy: FsyncPolicy;
  batchMs: number;
  /** Ship a put as a delta against the key's previous value whenever that is smaller. */
  deltas: boolean;
  /** Cap on catch-up and snapshot bytes per second across all streams (token bucket); 0 = none. */
  replicationBytesPerSecond: number;
  /** Bytes a data port connection may hold queued beyond uWS's buffer before it is closed. */
  sendBufferLimitBytes: number;
  /** A connection whose send buffer has not drained for this long is closed. */
  sendStallTimeoutMs: number;
  /** Records read from the log per catch-up step. */
  catchUpBatchRecords: number;
  /** A shadow further behind than this many records gets a snapshot instead of the log. */
  snapshotCatchUpRecords: number;
  /** Requests a gateway connection may have in flight on this port. */
  maxRequestsInFlightPerConnection: number;
  /** Frames a shadow queues while it installs a snapshot; beyond it they are dropped and re-asked. */
  maxQueuedFramesWhileInstalling: number;
  /** Bytes of snapshot chunks a shadow holds before it installs them. */
  maxSnapshotBytes: number;
  /** Reconnect backoff of a shadow's link: first delay, doubling up to the max. */
  reconnectDelayMs: number;
  reconnectDelayMaxMs: number;
  /** How long `promote` / `rollback` wait for the shadow to receive through `throughLsn`. */
  promoteWaitMs: number;
  /** A link that gets no answer to `hello` or `resync` for this long is dropped and reconnected. */
  linkTimeoutMs: number;
  /** Key and value limits of the data port (the client limits of DESIGN.md §5.1). */
  limits: ClientLimits;
  /** Overrides for every replica opened here (memory limit, segment size, ...). */
  replica: Partial<Omit<ReplicaOptions, 'dataDir' | 'shard' | 'role' | 'epoch' | 'clock' | 'logger'>>;
  clock: Clock;
  logger: StoreLogger;
  /** When set, write latencies and replication lag are recorded here (the agent samples it). */
  metrics?: StoreMetricsRecorder;
  /** Injected faults (`foreshard chaos`); absent, nothing is injected. */
  chaos?: ReplicationChaosHooks;
}

const MiB = 1024 * 1024;

/** Defaults of every option but dataDir and node. */
export const SHARD_HOST_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  minShadowAcks: 1,
  ackTimeoutMs: 5_000,
  applyDelayMs: 1_000,
  fsyncPolicy: 'batch' as FsyncPolicy,
  batchMs: 2,
  deltas: true,
  replicationBytesPerSecond: 0,
  sendBufferLimitBytes: 64 * MiB,
  sendStallTimeoutMs: 30_000,
  catchUpBatchRecords: 4_096,
  snapshotCatchUpRecords: 1_000_000,
  maxRequestsInFlightPerConnection: 4_096,
  maxQueuedFramesWhileInstalling: 65_536,
  maxSnapshotBytes: 512 * MiB,
  reconnectDelayMs: 50,
  reconnectDelayMaxMs: 2_000,
  promoteWaitMs: 10_000,
  linkTimeoutMs: 10_000,
});

const quietLogger: StoreLogger = () => {};

/** Merges defaults, validates and freezes. A bad value is a programmer error (the agent validates profiles). */
export function resolveShardHostOptions(input: Partial<ShardHostOptions> & Pick<ShardHostOptions, 'dataDir' | 'node'>): Readonly<ShardHostOptions> {
  const options: ShardHostOptions = { ...SHARD_HOST_DEFAULTS, limits: DEFAULT_CLIENT_LIMITS, replica: {}, clock: systemClock, logger: quietLogger, ...input };
  assert.ok(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(options.node), 'node must be an id (DESIGN.md §5.2)');
  assert.ok(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65_535, 'port must be 0..65535');
  assert.ok(Number.isInteger(options.minShadowAcks) && options.minShadowAcks >= 0 && options.minShadowAcks <= 16, 'minShadowAcks must be 0..16');
  assert.ok(options.applyDelayMs >= 0 && options.applyDelayMs <= 60_000, 'applyDelayMs must be 0..60000');
  assert.ok(options.replicationBytesPerSecond >= 0);
  for (const name of ['ackTimeoutMs', 'sendBufferLimitBytes', 'sendStallTimeoutMs', 'catchUpBatchRecords', 'snapshotCatchUpRecords', 'maxRequestsInFlightPerConnection', 'maxQueuedFramesWhileInstalling', 'maxSnapshotBytes', 'reconnectDelayMs', 'reconnectDelayMaxMs', 'promoteWaitMs', 'linkTimeoutMs'] as const) {
    assert.ok(Number.isSafeInteger(options[name]) && options[name] > 0, `${name} must be a positive integer`);
  }
  assert.ok(options.reconnectDelayMaxMs >= options.reconnectDelayMs);
  assert.ok(options.tokenKey === undefined || options.tokenKey.length >= 32, 'tokenKey must have at least 32 bytes');
  return Object.freeze({ ...options, replica: Object.freeze({ ...options.replica }) });
}
