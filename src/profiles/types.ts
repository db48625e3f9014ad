/**
 * The shape of a resolved firmware profile: every setting present, defaults merged, clamped and
 * frozen. The JSON Schema in firmware-profiles/profile.schema.json describes the file form, where
 * every setting but `name` is optional.
 */
import type { SeriesName } from '../metrics/series.js';

/** A collector a profile can enable; the names match each collector's `name`. */
export type CollectorName = 'proc' | 'node_exporter' | 'store';

/** An SLO threshold in the series' unit: a breach is a value above `max` or below `min`. */
export interface SloThreshold {
  readonly max?: number;
  readonly min?: number;
}

/** When the primary's log reaches the disk. */
export type FsyncPolicy =
  | { readonly policy: 'always' }
  | { readonly policy: 'batch'; readonly batchMs: number }
  | { readonly policy: 'none' };

/** A resolved firmware profile. */
export interface Profile {
  readonly name: string;
  readonly description: string;
  readonly sampling: {
    readonly sampleIntervalMs: number;
    readonly collectors: readonly CollectorName[];
    readonly nodeExporter: { readonly url?: string; readonly timeoutMs: number; readonly bytesMax: number };
  };
  readonly prediction: {
    readonly horizonS: number;
    readonly windowSamples: number;
    readonly refitEvery: number;
    readonly arimaGrid: { readonly p: readonly number[]; readonly d: readonly number[]; readonly q: readonly number[] };
  };
  readonly slo: Readonly<Partial<Record<SeriesName, SloThreshold>>>;
  readonly kernels: { readonly memoryCeilingBytes: number };
  readonly store: {
    readonly fsync: FsyncPolicy;
    readonly shardMemoryLimitBytes: number;
    readonly coldTierAgeS: number;
  };
  readonly replication: {
    readonly applyDelayMs: number;
    readonly minShadowAcks: number;
    readonly bandwidthCapBytesPerS: number;
  };
}
