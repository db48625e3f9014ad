/**
 * The metrics part (DESIGN.md §4, §6 `src/metrics/`): the series names, the host collectors over
 * /proc and node_exporter, the store's recorder, the sampler and the Prometheus text format.
 */
export * from './collector.js';
export * from './errors.js';
export * from './exposition.js';
export * from './host-counters.js';
export * from './node-exporter.js';
export * from './proc.js';
export * from './prometheus.js';
export * from './sampler.js';
export * from './series.js';
export * from './store-metrics.js';
