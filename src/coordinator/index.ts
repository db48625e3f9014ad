/**
 * `src/coordinator/`: the coordinator's decision core (cluster map, routing table, planned switches,
 * failovers, pre-replication, rebalancing, restart recovery), its incidents and failure history.
 * The MQTT wiring feeds {@link CoordinatorCore.handle} decoded messages and carries out the intents.
 *
 * @module
 */
export { CoordinatorCore, maxOutcomeWatches, type CoordinatorCoreInit, type CoordinatorStats } from './coordinator.js';
export { defaultCoordinatorOptions, resolveCoordinatorOptions, type CoordinatorOptions } from './options.js';
export { CoordinatorError, type CoordinatorErrorCode } from './errors.js';
export { RoutingTable, replicaNodes } from './routing.js';
export { ClusterMap, type NodeInfo, type NodeLiveness } from './cluster-map.js';
export { IncidentStore, defaultMaxIncidentFiles } from './incidents/store.js';
export type { Incident, IncidentKind, IncidentResult, IncidentStep, IncidentDriver, ScorePoint } from './incidents/incident.js';
export { FailureHistory, pairFromIncident, type HistoryPair, type HistoryFeatures, type HistorySummary } from './failure-history.js';
export { loadSpread } from './rebalance.js';
export * from './types.js';
