/**
 * The series an agent samples (DESIGN.md §4), named once here so collectors, profiles, the MQTT
 * metrics payload and the Prometheus exposition all use the same words. Units and qualifiers come
 * last in each name, and every value is a plain number in that unit.
 */

/** The series every profile can set an SLO threshold for, in the order operators read them. */
export const SERIES_NAMES = [
  'cpu_utilization',
  'memory_pressure',
  'cpu_stall_ratio',
  'memory_stall_ratio',
  'io_stall_ratio',
  'disk_utilization',
  'disk_await_ms',
  'network_bytes_per_s',
  'network_errors_per_s',
  'store_latency_ms_p99',
  'store_error_rate',
  'store_throughput_ops_per_s',
  'store_fsync_ms_p99',
  'replication_lag_ms',
] as const;

/** One of {@link SERIES_NAMES}. */
export type SeriesName = (typeof SERIES_NAMES)[number];

/**
 * One sample of some series. A series is absent, never NaN, when its source is missing or has no
 * defined value yet (a rate before the second sample, a p99 over an interval without operations).
 */
export type SeriesValues = Partial<Record<SeriesName, number>>;

/** What a series measures, for HELP lines and the README. */
export interface SeriesInfo {
  readonly help: string;
  /** Where the value comes from: the host (/proc or node_exporter) or the store's own recorder. */
  readonly source: 'host' | 'store';
}

/** Help text and source of every series. */
export const SERIES_INFO: Readonly<Record<SeriesName, SeriesInfo>> = Object.freeze({
  cpu_utilization: { source: 'host', help: 'Share of CPU time not idle or waiting on I/O over the sample interval, 0..1.' },
  memory_pressure: { source: 'host', help: 'Share of memory not available to new work, 1 - MemAvailable/MemTotal, 0..1.' },
  cpu_stall_ratio: { source: 'host', help: 'Share of wall time some task waited for CPU (PSI "some"), 0..1.' },
  memory_stall_ratio: { source: 'host', help: 'Share of wall time some task stalled on memory (PSI "some"), 0..1.' },
  io_stall_ratio: { source: 'host', help: 'Share of wall time some task stalled on I/O (PSI "some"), 0..1.' },
  disk_utilization: { source: 'host', help: 'Busiest disk\'s share of time with I/O in flight over the interval, 0..1.' },
  disk_await_ms: { source: 'host', help: 'Mean time a completed disk request took, queueing included, in milliseconds.' },
  network_bytes_per_s: { source: 'host', help: 'Bytes received plus sent per second on all interfaces but loopback.' },
  network_errors_per_s: { source: 'host', help: 'Receive plus transmit errors per second on all interfaces but loopback.' },
  store_latency_ms_p99: { source: 'store', help: '99th percentile of store operation latency over the interval, in milliseconds.' },
  store_error_rate: { source: 'store', help: 'Share of store operations that failed over the interval, 0..1.' },
  store_throughput_ops_per_s: { source: 'store', help: 'Store operations completed per second over the interval.' },
  store_fsync_ms_p99: { source: 'store', help: '99th percentile of fsync duration over the interval, in milliseconds.' },
  replication_lag_ms: { source: 'store', help: 'Largest primary-to-shadow replication lag seen over the interval, in milliseconds.' },
});

const seriesNameSet: ReadonlySet<string> = new Set(SERIES_NAMES);

/** True when `name` is one of {@link SERIES_NAMES}. */
export function isSeriesName(name: string): name is SeriesName {
  return seriesNameSet.has(name);
}
