/**
 * The interface every collector implements, so the sampler can run /proc, node_exporter and the
 * store's recorder side by side and treat a missing source the same way for all of them.
 */
import type { MetricsErrorCode } from './errors.js';
import type { SeriesValues } from './series.js';

/** A source that could not be read for one sample, e.g. `/proc/pressure/io` on a kernel without PSI. */
export interface SourceProblem {
  /** Stable name of the source, used to log one note per source rather than one per sample. */
  readonly source: string;
  readonly code: MetricsErrorCode;
  readonly message: string;
}

/** What one collector produced for one sample: the series it could compute and the sources it could not read. */
export interface CollectorReading {
  readonly values: SeriesValues;
  readonly problems: readonly SourceProblem[];
}

/** A source of series, sampled by the {@link Sampler} at each tick. */
export interface Collector {
  /** Short stable name, such as `proc`, `node_exporter` or `store`; matches the profile's collector list. */
  readonly name: string;
  /** Reads the source at time `nowMs` (the sampler's clock). Rates are computed against the previous call. */
  sample(nowMs: number): Promise<CollectorReading>;
}
