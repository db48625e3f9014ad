/**
 * The shard store: a replica's log, state, snapshots, tiers, delayed apply, conflicts and restore.
 * The replication layer builds on `Replica`; tools use `restoreShard` and `listConflicts`.
 *
 * @module
 */
export { Replica, type WriteResult, type OpenReport, type PreviousVersion, type FrameListener } from './replica.js';
export { StoreError, isStoreError, type StoreErrorCode } from './errors.js';
export { REPLICA_DEFAULTS, resolveReplicaOptions, shardDirectories, type ReplicaOptions, type ReplicaRole, type StoreChaosHooks, type StoreLogger } from './options.js';
export { validateFrame, type ReplicationFrame } from './frame.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { KEY_MAX_BYTES, VALUE_MAX_BYTES, type LogRecord } from './record.js';
export { FSYNC_POLICIES, type FsyncPolicy } from './fsync.js';
export { listConflicts, readConflictRecords, type ConflictSummary, type ConflictReason } from './conflicts.js';
export { restoreShard, parseRestoreTarget, type RestoreTarget, type RestoreReport } from './restore.js';
export { verifyShardLog, type LogVerification } from './verify.js';
