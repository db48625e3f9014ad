/**
 * `src/replication/`: the primary → shadow stream and the agent's data port (DESIGN.md §2, §5.3).
 * `ShardHost` owns this node's replicas and the data port, with one method per coordinator
 * command; `DataPortClient` is the client side a gateway uses. See docs/replication.md.
 *
 * @module
 */
export { ShardHost } from './shard-host.js';
export { resolveShardHostOptions, SHARD_HOST_DEFAULTS, type ShardHostOptions, type DataPortTls, type ReplicationChaosHooks } from './options.js';
export { ReplicationError, isReplicationError, commandErrorCode, type ReplicationErrorCode } from './errors.js';
export { DataPortClient, DataPortLink, type DataPortLinkOptions, type DataPortLinkHandlers, type DataRequest } from './link.js';
export { MAX_BAD_FRAMES_PER_CONNECTION } from './data-port.js';
export { DELTA_MIN_VALUE_BYTES } from './outgoing.js';
export { HIGH_WATER_BYTES } from './writer.js';
export type { PrimaryAddress, ShadowProgress, ShardReport, ReplicationStats, ShardCommandOutcome } from './types.js';
