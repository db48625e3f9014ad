/**
 * `foreshard detect <input.csv> --out <output.csv>`: runs the scoring engine's detector over a CSV of
 * `timestamp,value` and writes `timestamp,value,anomaly_score`, one row per input row in the same
 * order (NAB's result format). It streams, so memory does not grow with the file, and it writes
 * through a temporary file that is renamed into place only when every row is done.
 */
import { stat } from 'node:fs/promises';
import { OperatingError, UsageError, type Command, type ParsedOptions } from '../command.js';
import { AtomicCsvWriter, readSeriesCsv, type ReadProgress } from '../csv.js';
import { numberOption } from '../parse.js';
import { Detector, defaultDetectorOptions, type DetectorOptions } from '../../predict/detector.js';
import { defaultFitter } from '../../predict/kernel.js';
import { maxWindowSize } from '../../predict/series-model.js';

/** Minimum time between two progress lines on a terminal. */
const progressIntervalMs = 250;

/** What `detectFile` did. */
export interface DetectSummary {
  rows: number;
  fitFailures: number;
}

/** Reads the detector's options from parsed command-line options (shared with `eval`). */
export function detectorOptionsFrom(options: ParsedOptions): DetectorOptions {
  const windowSize = numberOption(options, 'window', 20, maxWindowSize);
  const refitEvery = numberOption(options, 'refit-every', 1, 1_000_000);
  const fullSearchEvery = numberOption(options, 'full-search-every', 1, 1_000_000);
  if (![windowSize, refitEvery, fullSearchEvery].every(Number.isInteger)) throw new UsageError('--window, --refit-every and --full-search-every must be whole numbers');
  return {
    ...defaultDetectorOptions,
    windowSize,
    refitEvery,
    fullSearchEvery,
    minFitSamples: Math.min(defaultDetectorOptions.minFitSamples, windowSize),
  };
}

/** The detector options every CSV command declares. */
export const detectorOptionSpecs = {
  window: {
    type: 'string',
    valueName: '<samples>',
    description: 'samples in the sliding window each ARIMA fit sees (20..10000)',
    default: String(defaultDetectorOptions.windowSize),
  },
  'refit-every': {
    type: 'string',
    valueName: '<samples>',
    description: 'samples between ARIMA refits (order re-chosen by AIC each time)',
    default: String(defaultDetectorOptions.refitEvery),
  },
  'full-search-every': {
    type: 'string',
    valueName: '<refits>',
    description: "once the window is full, search the whole order grid at one refit in this many, and the last order's neighbours at the others (the agent uses 10)",
    default: '1',
  },
} as const;

/** Shows a one-line progress indicator on stderr when it is a terminal; a no-op otherwise. */
export function progressReporter(label: string, totalBytes: number): { update(progress: ReadProgress): void; done(): void } {
  if (!process.stderr.isTTY) return { update() {}, done() {} };
  let lastMs = 0;
  return {
    update(progress) {
      const now = Date.now();
      if (now - lastMs < progressIntervalMs) return;
      lastMs = now;
      const percent = totalBytes > 0 ? Math.min(100, (100 * progress.bytesRead) / totalBytes).toFixed(0) : '?';
      process.stderr.write(`\r${label}: ${progress.rows} rows (${percent}%)`);
    },
    done() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

/** Runs the detector over `inputPath` and writes the NAB result CSV to `outputPath`, atomically. */
export async function detectFile(inputPath: string, outputPath: string, options: DetectorOptions): Promise<DetectSummary> {
  const totalBytes = await stat(inputPath).then(
    (info) => info.size,
    () => 0,
  );
  const detector = new Detector(defaultFitter(), options);
  const progress: ReadProgress = { bytesRead: 0, rows: 0 };
  const reporter = progressReporter(inputPath, totalBytes);
  const writer = new AtomicCsvWriter(outputPath, 'timestamp,value,anomaly_score');
  let rows = 0;
  try {
    await writer.opened();
    for await (const row of readSeriesCsv(inputPath, progress)) {
      const score = detector.observe(row.value);
      await writer.writeLine(`${row.timestamp},${row.valueText},${formatScore(score)}`);
      rows++;
      reporter.update(progress);
    }
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    reporter.done();
  }
  return { rows, fitFailures: detector.fitFailures };
}

/** Scores are written with enough digits to keep distinct scores distinct for the threshold sweep. */
function formatScore(score: number): string {
  return score === 0 ? '0' : score === 1 ? '1' : score.toPrecision(12);
}

/** The `foreshard detect` command. */
export const detectCommand: Command = {
  name: 'detect',
  summary: 'score a CSV series for anomalies (writes timestamp,value,anomaly_score)',
  usage: '<input.csv> --out <output.csv>',
  details: [
    'Reads a CSV with the header `timestamp,value` and writes one row per input row, in order,',
    'with an anomaly score in [0,1] (NAB result format). Streams: memory stays bounded for any',
    'length. The output appears only when complete (written to a temporary file, then renamed).',
  ].join('\n'),
  options: {
    out: { type: 'string', valueName: '<output.csv>', description: 'where to write the scored CSV (required)' },
    ...detectorOptionSpecs,
  },
  async run(positionals, options) {
    if (positionals.length !== 1) throw new UsageError(`expected one input CSV, got ${positionals.length} arguments`);
    const out = options.out;
    if (typeof out !== 'string' || out === '') throw new UsageError('--out <output.csv> is required');
    const input = positionals[0]!;
    if (input === out) throw new OperatingError('DETECT_SAME_FILE', `${input}: the output must not overwrite the input`);
    const summary = await detectFile(input, out, detectorOptionsFrom(options));
    const failures = summary.fitFailures > 0 ? ` (${summary.fitFailures} ARIMA refits failed and kept the previous model)` : '';
    process.stderr.write(`detect: scored ${summary.rows} rows -> ${out}${failures}\n`);
    return 0;
  },
};
