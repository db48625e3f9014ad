/**
 * `src/dashboard/`: the live cluster dashboard (issue 8). A {@link startClusterView | cluster view}
 * follows a cluster over MQTT only; {@link startDashboard} serves it as a page, a JSON snapshot and
 * Server-Sent Events. The coordinator mounts it, and `foreshard dashboard` runs it on its own.
 *
 * @module
 */
export { startClusterView, VIEW_CONNECT_TIMEOUT_MS, VIEW_RECONNECT_PERIOD_MS, type ClusterView, type ClusterViewOptions, type DashboardSource } from './view.js';
export { startDashboard, MAX_SSE_CLIENTS, MAX_SSE_BUFFERED_BYTES, SSE_PUSH_INTERVAL_MS, type Dashboard, type DashboardOptions } from './server.js';
export {
  ClusterModel,
  MAX_HISTORY_POINTS,
  MAX_INCIDENTS,
  MAX_TIMELINE_ENTRIES,
  MAX_TRACKED_NODES,
  MAX_SHARD_HISTORIES,
  type DashboardSnapshot,
  type DashboardDelta,
  type DashboardSummary,
  type NodeView,
  type ShardView,
  type TimelineEntry,
} from './model.js';
export type { ScorePoint } from './history.js';
export { DashboardError, type DashboardErrorCode } from './errors.js';
export { DASHBOARD_PAGE } from './page.js';
