/**
 * `npm run bench -- arima [--rounds N]`: rolling-origin evaluation of the ARIMA kernel on the 17
 * realAWSCloudwatch series of NAB (window 500, horizon 12, 20 origins evenly spread over each
 * series), against the npm `arima` package (ctsa compiled by emscripten) at the same order (2,1,1)
 * and the naive last-value forecast, all measured in the same run. Speeds are medians of N rounds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fitArima, selectArima, type ArimaModel } from '../src/kernels/arima.js';
import { fitArimaReference } from '../src/kernels/arima-reference.js';
import { geometricMean, median, secondsPerCall, table } from './lib/stats.js';

const WINDOW = 500;
const HORIZON = 12;
const ORIGINS = 20;
const ORDER = { p: 2, d: 1, q: 1 } as const;
const DEFAULT_ROUNDS = 3;
const TARGET_FIT_SPEEDUP = 10;
const TARGET_NAIVE_RATIO = 0.9;
const TARGET_UPDATES_PER_SECOND = 1_000_000;

/** The project root; this file compiles to build/bench/arima.js. */
const root = new URL('../../', import.meta.url);
const dataDir = new URL('../shared/data/nab/realAWSCloudwatch/', root);

interface Series {
  name: string;
  values: Float64Array;
  origins: number[];
}

/** A forecaster under test: returns the h-step mean forecast from a window. */
interface Method {
  label: string;
  forecast(window: Float64Array): ArrayLike<number>;
}

interface NpmArimaModel {
  train(values: number[]): NpmArimaModel;
  predict(h: number): [number[], number[]];
  destroy(): void;
}
type NpmArimaClass = new (options: Record<string, unknown>) => NpmArimaModel;

function loadSeries(): Series[] {
  return readdirSync(dataDir)
    .filter((name) => name.endsWith('.csv'))
    .sort()
    .map((file) => {
      // CSV header `timestamp,value`; the evaluation works by row index.
      const rows = readFileSync(new URL(file, dataDir), 'utf8').trim().split('\n').slice(1);
      const values = Float64Array.from(rows, (row) => Number(row.slice(row.indexOf(',') + 1)));
      const span = values.length - WINDOW - HORIZON;
      const origins = Array.from({ length: ORIGINS }, (_, k) => WINDOW + Math.round((k * span) / (ORIGINS - 1)));
      return { name: file.replace(/\.csv$/, ''), values, origins };
    });
}

function npmMethod(ARIMA: NpmArimaClass, method: 0 | 1, label: string, failures: Map<string, number>): Method {
  return {
    label,
    forecast(window) {
      try {
        const model = new ARIMA({ ...ORDER, method, verbose: false }).train(Array.from(window));
        const [mean] = model.predict(HORIZON);
        model.destroy();
        return mean;
      } catch {
        // A failed fit counts against the package and forecasts naively, so its MAE stays comparable.
        failures.set(label, (failures.get(label) ?? 0) + 1);
        return new Float64Array(HORIZON).fill(window[window.length - 1]!);
      }
    },
  };
}

/** One pass of `method` over every origin of `series`: the mean absolute error and the seconds spent forecasting. */
function evaluate(method: Method, series: Series): { mae: number; seconds: number; nonFinite: number } {
  let errorSum = 0;
  let nonFinite = 0;
  let seconds = 0;
  for (const origin of series.origins) {
    const window = series.values.subarray(origin - WINDOW, origin);
    const start = process.hrtime.bigint();
    const mean = method.forecast(window);
    seconds += Number(process.hrtime.bigint() - start) / 1e9;
    for (let h = 0; h < HORIZON; h++) {
      if (!Number.isFinite(mean[h]!)) nonFinite++;
      errorSum += Math.abs(mean[h]! - series.values[origin + h]!);
    }
  }
  return { mae: errorSum / (series.origins.length * HORIZON), seconds, nonFinite };
}

/** Median streaming updates per second of `model` over `values`, by `update` and by `updateMany`. */
function measureUpdates(model: ArimaModel, values: Float64Array, rounds: number): { single: number; batch: number } {
  const single: number[] = [];
  const batch: number[] = [];
  for (let round = 0; round < rounds; round++) {
    single.push(values.length / secondsPerCall(() => values.forEach((v) => model.update(v))));
    batch.push(values.length / secondsPerCall(() => model.updateMany(values)));
  }
  return { single: median(single), batch: median(batch) };
}

function parseRounds(args: string[]): number {
  const index = args.indexOf('--rounds');
  const rounds = index >= 0 ? Number(args[index + 1]) : DEFAULT_ROUNDS;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error(`--rounds must be an integer in 1..20, got ${args[index + 1]}`);
  return rounds;
}

/** Runs the benchmark; `args` may hold `--rounds N` (default 3). */
export async function run(args: string[]): Promise<void> {
  const rounds = parseRounds(args);
  const require = createRequire(import.meta.url);
  const ARIMA = (await (require('arima/async') as Promise<NpmArimaClass>)) as NpmArimaClass;
  const failures = new Map<string, number>();
  const methods: Method[] = [
    { label: 'ours (2,1,1)', forecast: (w) => fitArima(w, ORDER).forecast(HORIZON).mean },
    { label: 'ours (selected)', forecast: (w) => selectArima(w).forecast(HORIZON).mean },
    { label: 'ours TS ref (2,1,1)', forecast: (w) => fitArimaReference(w, ORDER).forecast(HORIZON).mean },
    npmMethod(ARIMA, 1, 'npm arima CSS (2,1,1)', failures),
    npmMethod(ARIMA, 0, 'npm arima exact (2,1,1)', failures),
    { label: 'naive last value', forecast: (w) => new Float64Array(HORIZON).fill(w[w.length - 1]!) },
  ];
  const allSeries = loadSeries();
  // results[method][series] from round 1; totals[method] = fits per second of each round.
  const results = methods.map(() => [] as { mae: number; seconds: number; nonFinite: number }[]);
  const totals = methods.map(() => [] as number[]);
  // One untimed pass warms up the JIT and instantiates every kernel before anything is timed.
  methods.forEach((method) => evaluate(method, allSeries[0]!));
  for (let round = 0; round < rounds; round++) {
    // Methods take turns on each series, so load from other processes on this shared machine
    // falls on all of them alike.
    const seconds = methods.map(() => 0);
    for (const [s, series] of allSeries.entries()) {
      methods.forEach((method, m) => {
        const result = evaluate(method, series);
        seconds[m]! += result.seconds;
        if (round === 0) results[m]![s] = result;
      });
    }
    seconds.forEach((total, m) => totals[m]!.push((allSeries.length * ORIGINS) / total));
  }
  printTables(methods, allSeries, results, totals, rounds);
  const updates = measureUpdates(fitArima(allSeries[0]!.values.subarray(0, WINDOW), ORDER), allSeries[0]!.values, Math.max(rounds, 3));
  printTargets(methods, results, totals, updates, failures);
}

function printTables(methods: Method[], allSeries: Series[], results: { mae: number; seconds: number }[][], totals: number[][], rounds: number): void {
  const naive = methods.length - 1;
  console.log(`window ${WINDOW}, horizon ${HORIZON}, ${ORIGINS} origins per series, ${allSeries.length} series; MAE per series, then fits/s (round 1)`);
  const header = ['series', ...methods.map((m) => m.label)];
  const maeRows = allSeries.map((series, s) => [series.name, ...methods.map((_, m) => results[m]![s]!.mae)]);
  const ratioRow = ['geo-mean MAE / naive', ...methods.map((_, m) => geometricMean(allSeries.map((_, s) => results[m]![s]!.mae / results[naive]![s]!.mae)))];
  console.log(table([header, ...maeRows, ratioRow]));
  console.log('\nfits per second');
  const speedRows = allSeries.map((series, s) => [series.name, ...methods.map((_, m) => ORIGINS / results[m]![s]!.seconds)]);
  const totalRow = [`total (median of ${rounds})`, ...totals.map((perRound) => median(perRound))];
  console.log(table([header, ...speedRows, totalRow]));
}

function printTargets(
  methods: Method[],
  results: { mae: number; nonFinite: number }[][],
  totals: number[][],
  updates: { single: number; batch: number },
  failures: Map<string, number>,
): void {
  const index = (label: string): number => methods.findIndex((m) => m.label === label);
  const speed = (label: string): number => median(totals[index(label)]!);
  const naive = results[methods.length - 1]!;
  const ratio = (label: string): number => geometricMean(results[index(label)]!.map((r, s) => r.mae / naive[s]!.mae));
  const fastestNpm = Math.max(speed('npm arima CSS (2,1,1)'), speed('npm arima exact (2,1,1)'));
  const speedup = speed('ours (2,1,1)') / fastestNpm;
  const oursFinite = ['ours (2,1,1)', 'ours (selected)'].every((label) => results[index(label)]!.every((r) => r.nonFinite === 0 && Number.isFinite(r.mae)));
  const mark = (ok: boolean): string => (ok ? 'MET' : 'NOT MET');
  console.log('\ntargets');
  console.log(`  fits/s ours (2,1,1) / fastest npm arima (2,1,1): ${speedup.toFixed(1)}x (target >= ${TARGET_FIT_SPEEDUP}x): ${mark(speedup >= TARGET_FIT_SPEEDUP)}`);
  console.log(`  ours TS reference (2,1,1) fits/s: ${speed('ours TS ref (2,1,1)').toFixed(0)} (WASM is ${(speed('ours (2,1,1)') / speed('ours TS ref (2,1,1)')).toFixed(1)}x)`);
  console.log(`  our forecasts all finite: ${mark(oursFinite)}`);
  for (const label of ['ours (2,1,1)', 'ours (selected)']) {
    console.log(`  geo-mean MAE ratio to naive, ${label}: ${ratio(label).toFixed(3)} (target <= ${TARGET_NAIVE_RATIO}): ${mark(ratio(label) <= TARGET_NAIVE_RATIO)}`);
  }
  for (const label of ['npm arima CSS (2,1,1)', 'npm arima exact (2,1,1)']) {
    const nonFinite = results[index(label)]!.reduce((sum, r) => sum + r.nonFinite, 0);
    console.log(`  ${label}: geo-mean ratio to naive ${ratio(label).toFixed(3)}, non-finite forecasts ${nonFinite}, failed fits ${failures.get(label) ?? 0} (over all rounds)`);
  }
  console.log(`  streaming updates/s, update(): ${(updates.single / 1e6).toFixed(1)} M (target >= ${TARGET_UPDATES_PER_SECOND / 1e6} M): ${mark(updates.single >= TARGET_UPDATES_PER_SECOND)}`);
  console.log(`  streaming updates/s, updateMany(): ${(updates.batch / 1e6).toFixed(1)} M; one update costs 1/${(updates.single / fastestNpm).toFixed(0)} of a npm arima refit`);
}
