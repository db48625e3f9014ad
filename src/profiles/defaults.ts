/**
 * The default of every profile setting. A profile file sets only what differs for its host class;
 * these fill the rest. The JSON Schema repeats each scalar default as a `default` annotation for
 * editors, and a test keeps the two equal.
 */
import type { Profile } from './types.js';

const mebibyte = 1024 * 1024;

/** Defaults for everything but `name`: a general-purpose x86 server with SSDs and 10 GbE. */
export const PROFILE_DEFAULTS: Omit<Profile, 'name'> = deepFreeze({
  description: '',
  sampling: { sampleIntervalMs: 1000, collectors: ['proc', 'store'], nodeExporter: { timeoutMs: 2000, bytesMax: 8 * mebibyte } },
  prediction: { horizonS: 60, windowSamples: 600, refitEvery: 60, arimaGrid: { p: [0, 1, 2], d: [0, 1], q: [0, 1, 2] } },
  slo: {
    cpu_utilization: { max: 0.9 },
    memory_pressure: { max: 0.9 },
    cpu_stall_ratio: { max: 0.3 },
    memory_stall_ratio: { max: 0.1 },
    io_stall_ratio: { max: 0.3 },
    disk_utilization: { max: 0.9 },
    disk_await_ms: { max: 20 },
    network_bytes_per_s: { max: 1_125_000_000 }, // 90% of 10 GbE
    network_errors_per_s: { max: 10 },
    store_latency_ms_p99: { max: 50 },
    store_error_rate: { max: 0.01 },
    store_fsync_ms_p99: { max: 20 },
    replication_lag_ms: { max: 1000 },
  },
  kernels: { memoryCeilingBytes: 32 * mebibyte },
  store: { fsync: { policy: 'batch', batchMs: 5 }, shardMemoryLimitBytes: 256 * mebibyte, coldTierAgeS: 86_400 },
  replication: { applyDelayMs: 500, minShadowAcks: 1, bandwidthCapBytesPerS: 250_000_000 },
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
