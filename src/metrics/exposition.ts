/**
 * The metrics collectors contribute to the agent's `/metrics` page, as Prometheus families. Series
 * keep their names with a `foreshard_` prefix, so `cpu_utilization` in the MQTT payload is
 * `foreshard_cpu_utilization` in Prometheus; the agent adds its own families (scores, MQTT state,
 * dropped payloads) next to these.
 */
import type { SourceProblem } from './collector.js';
import type { MetricFamilyInput } from './prometheus.js';
import type { MetricsSample, SamplerCounters } from './sampler.js';
import { SERIES_INFO, SERIES_NAMES } from './series.js';
import type { StoreTotals } from './store-metrics.js';

/** Prefix of every foreshard metric name in the exposition. */
export const METRIC_PREFIX = 'foreshard_';

/** What the collectors know at one moment; each part is optional so the agent can show what it has. */
export interface MetricsSnapshot {
  readonly sample?: MetricsSample;
  readonly storeTotals?: StoreTotals;
  readonly samplerCounters?: SamplerCounters;
  readonly unavailableSources?: readonly SourceProblem[];
}

/** Prometheus families for the latest sample, the store's totals and the sampler's counters. */
export function metricsFamilies(snapshot: MetricsSnapshot): MetricFamilyInput[] {
  const families: MetricFamilyInput[] = [];
  const series = snapshot.sample?.series ?? {};
  for (const name of SERIES_NAMES) {
    const value = series[name];
    if (value === undefined) continue;
    families.push({ name: `${METRIC_PREFIX}${name}`, help: SERIES_INFO[name].help, type: 'gauge', samples: [{ value }] });
  }
  const counter = (name: string, help: string, value: number): void => {
    families.push({ name: `${METRIC_PREFIX}${name}`, help, type: 'counter', samples: [{ value }] });
  };
  if (snapshot.storeTotals) {
    counter('store_operations_total', 'Store operations completed since the agent started.', snapshot.storeTotals.operations);
    counter('store_operation_errors_total', 'Store operations that failed since the agent started.', snapshot.storeTotals.operationErrors);
    counter('store_fsyncs_total', 'Log fsyncs since the agent started.', snapshot.storeTotals.fsyncs);
  }
  if (snapshot.samplerCounters) {
    counter('metrics_samples_total', 'Samples taken by the metrics sampler.', snapshot.samplerCounters.samples);
    counter('metrics_skipped_ticks_total', 'Sample ticks skipped because the previous sample was still running.', snapshot.samplerCounters.skippedTicks);
    counter('metrics_source_failures_total', 'Failed reads of a metrics source, one per source per sample.', snapshot.samplerCounters.sourceFailures);
  }
  if (snapshot.unavailableSources) {
    families.push({
      name: `${METRIC_PREFIX}metrics_source_unavailable`,
      help: 'Metrics sources that could not be read at the last sample (1 each), with the reason code.',
      type: 'gauge',
      samples: snapshot.unavailableSources.map((p) => ({ labels: { source: p.source, code: p.code }, value: 1 })),
    });
  }
  return families;
}
