/**
 * `src/gateway/`: the client-facing WebSocket gateway (DESIGN.md §1, §3, §5.1): routing by the
 * README hash, forwarding to shard primaries' data ports, buffering while a shard switches, auth,
 * backpressure, `/metrics` and `/healthz`.
 *
 * @module
 */
export { startGateway, type Gateway } from './server.js';
export { GATEWAY_DEFAULTS, resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from './options.js';
export { fnv1a32, shardOfKey, FNV1A_32_OFFSET_BASIS, FNV1A_32_PRIME } from './hash.js';
export { RoutingView, subscribeRouting, type RoutingSubscription } from './routing.js';
export { ShardBuffers, type ShardBufferLimits } from './buffer.js';
export { GatewayError } from './errors.js';
export { bearerTokenOf, credentialsOf, loadTokenKey, type Credentials } from './auth.js';
export { CLOSE_NOT_READING, CLOSE_GOING_AWAY } from './connection.js';
