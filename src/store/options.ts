/**
 * Replica configuration: one typed options object, defaults merged once, validated, frozen.
 * Every limit here is enforced where data enters the replica and documented in docs/store-format.md.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { systemClock, type Clock } from './clock.js';
import { FSYNC_POLICIES, type FsyncPolicy } from './fsync.js';

export type ReplicaRole = 'primary' | 'shadow' | 'fenced';

/**
 * Fault hooks an agent may give the store (its chaos controller, src/chaos/). The store calls
 * them and imports nothing from there, so the store stays usable and testable on its own.
 */
export interface StoreChaosHooks {
  /** Milliseconds an fsync starting at `nowMs` takes beyond the real one (a slow disk); 0 for none. */
  fsyncDelayMs(nowMs: number): number;
}

/** Structured log line: `event` is a stable name, `fields` its details. */
export type StoreLogger = (level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown>) => void;

export interface ReplicaOptions {
  /** Root data directory; the shard lives in `<dataDir>/shards/<shard>/`. */
  dataDir: string;
  shard: number;
  /** Role and epoch for a replica created now; an existing replica keeps the ones in its meta.json. */
  role: ReplicaRole;
  epoch: number;
  fsyncPolicy: FsyncPolicy;
  /** Group-commit interval of the `batch` policy (and write interval of `none`). */
  batchMs: number;
  /** How long a shadow holds a received frame before applying it (DESIGN.md §2: 50 ms to 5 s). */
  applyDelayMs: number;
  /** Enforced limit on the shard's in-memory state (entries plus writes in flight). */
  memoryLimitBytes: number;
  /** Writes accepted by a primary and not yet durable. */
  maxInFlightWrites: number;
  /** Bytes of frames a shadow holds received but unapplied (the rollback window). */
  maxUnappliedBytes: number;
  segmentMaxBytes: number;
  maxBatchBytes: number;
  snapshotEveryRecords: number;
  snapshotEveryBytes: number;
  snapshotsRetained: number;
  /** Sealed segments whose newest record is older than this move to the cold tier; 0 disables. */
  coldAfterMs: number;
  /** Open a log with corruption followed by good records by cutting there (losing them). */
  repair: boolean;
  clock: Clock;
  logger: StoreLogger;
  /** Injected faults (`foreshard chaos`); absent, the store runs as it is. */
  chaos?: StoreChaosHooks;
  /** Called with each fsync's duration in ms, an injected delay included (the agent's store_fsync_ms_p99). */
  onFsync?: (durationMs: number) => void;
}

const MiB = 1024 * 1024;

/** Defaults of every option but dataDir and shard. */
export const REPLICA_DEFAULTS = {
  role: 'primary' as ReplicaRole,
  epoch: 1,
  fsyncPolicy: 'batch' as FsyncPolicy,
  batchMs: 2,
  applyDelayMs: 1000,
  memoryLimitBytes: 256 * MiB,
  maxInFlightWrites: 65_536,
  maxUnappliedBytes: 256 * MiB,
  segmentMaxBytes: 16 * MiB,
  maxBatchBytes: 4 * MiB,
  snapshotEveryRecords: 100_000,
  snapshotEveryBytes: 64 * MiB,
  snapshotsRetained: 3,
  coldAfterMs: 24 * 3600 * 1000,
  repair: false,
};

/** Writes one JSON line per event to stderr. */
export const stderrLogger: StoreLogger = (level, event, fields) => {
  process.stderr.write(JSON.stringify({ level, event, ...fields }) + '\n');
};

/** Merges defaults, validates, and freezes. Bad values are programmer errors (the agent validates profiles). */
export function resolveReplicaOptions(options: Partial<ReplicaOptions> & Pick<ReplicaOptions, 'dataDir' | 'shard'>): Readonly<ReplicaOptions> {
  const resolved: ReplicaOptions = { ...REPLICA_DEFAULTS, clock: systemClock, logger: stderrLogger, ...options };
  assert.ok(Number.isSafeInteger(resolved.shard) && resolved.shard >= 0, 'shard must be a non-negative integer');
  assert.ok(['primary', 'shadow', 'fenced'].includes(resolved.role));
  assert.ok(Number.isSafeInteger(resolved.epoch) && resolved.epoch >= 1);
  assert.ok(FSYNC_POLICIES.includes(resolved.fsyncPolicy), `fsyncPolicy must be one of ${FSYNC_POLICIES.join(', ')}`);
  assert.ok(resolved.batchMs >= 0 && resolved.batchMs <= 1000, 'batchMs must be 0..1000');
  assert.ok(resolved.applyDelayMs >= 0 && resolved.applyDelayMs <= 60_000, 'applyDelayMs must be 0..60000');
  for (const name of ['memoryLimitBytes', 'maxInFlightWrites', 'maxUnappliedBytes', 'segmentMaxBytes', 'maxBatchBytes', 'snapshotEveryRecords', 'snapshotEveryBytes', 'snapshotsRetained'] as const) {
    assert.ok(Number.isSafeInteger(resolved[name]) && resolved[name] > 0, `${name} must be a positive integer`);
  }
  assert.ok(resolved.coldAfterMs >= 0);
  return Object.freeze(resolved);
}

/** The directories of one shard replica. */
export interface ShardDirectories {
  shardDir: string;
  logDir: string;
  coldDir: string;
  snapshotDir: string;
  conflictDir: string;
  metaPath: string;
}

/** `<dataDir>/shards/<shard>/{log,cold,snapshots,conflicts,meta.json}`. */
export function shardDirectories(dataDir: string, shard: number): ShardDirectories {
  const shardDir = join(dataDir, 'shards', String(shard));
  return {
    shardDir,
    logDir: join(shardDir, 'log'),
    coldDir: join(shardDir, 'cold'),
    snapshotDir: join(shardDir, 'snapshots'),
    conflictDir: join(shardDir, 'conflicts'),
    metaPath: join(shardDir, 'meta.json'),
  };
}
