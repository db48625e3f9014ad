/**
 * `npm run bench -- predict [--seconds N] [--rounds R]`: the scoring engine's cost per agent, i.e. 100
 * series sampled at 1 Hz and scored every second, with the default WebAssembly kernels (ARIMA and
 * probability) and with their pure-TypeScript references as the peer measured in the same run. It reports CPU time per sample
 * (including the amortised refits and the per-second scoring), the share of one core at 1 Hz, and
 * the memory per series. Targets (issue 3): under 2% of one core and under 20 MB for 100 series.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ScoringEngine } from '../src/predict/engine.js';
import { breachProbability, breachProbabilityReference } from '../src/kernels/probability.js';
import { kernelFitter, referenceFitter } from '../src/predict/kernel.js';
import type { ArimaFitter } from '../src/predict/series-model.js';
import { median, table } from './lib/stats.js';
import { mulberry32 as seededRandom } from '../src/common/random.js';

const seriesCount = 100;
const shardCount = 8;
const nodeSeriesCount = 20;
/** Simulated seconds per round: long enough to include several refits per series (every 200 samples). */
const secondsDefault = 1200;
const roundsDefault = 3;
const cpuTargetPercent = 2;
const memoryTargetBytes = 20 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Full collections until the heap stops shrinking, so a delta measures live data, not garbage. */
function settleHeap(): void {
  let previous = Infinity;
  for (let pass = 0; pass < 5; pass++) {
    collectGarbage();
    const used = process.memoryUsage().heapUsed;
    if (used >= previous) return;
    previous = used;
  }
}


/** An engine with 100 series: 20 host series on the node, the rest spread over 8 shards. */
function makeEngine(fitter: ArimaFitter): ScoringEngine {
  // The peer runs all-TypeScript: reference ARIMA and reference breach probability.
  const engine = new ScoringEngine({ fitter, breachProbability: fitter === kernelFitter ? breachProbability : breachProbabilityReference });
  for (let index = 0; index < seriesCount; index++) {
    const scope = index < nodeSeriesCount ? ({ kind: 'node' } as const) : ({ kind: 'shard', shard: index % shardCount } as const);
    engine.addSeries({ name: `series-${index}`, scope, threshold: 100 });
  }
  return engine;
}

/** Feeds `seconds` ticks of AR(1) noise around a slow wave to every series, scoring once per tick. */
function drive(engine: ScoringEngine, seconds: number, random: () => number, levels: Float64Array): void {
  for (let tick = 0; tick < seconds; tick++) {
    for (let index = 0; index < seriesCount; index++) {
      levels[index] = 0.8 * levels[index]! + (random() - 0.5) * 4;
      engine.observe(`series-${index}`, 50 + 10 * Math.sin((tick + index * 37) / 60) + levels[index]!);
    }
    engine.score();
  }
}

interface Measurement {
  cpuMicrosecondsPerSample: number;
  bytesPerSeries: number;
}

function measure(fitter: ArimaFitter, seconds: number, seed: number): Measurement {
  const random = seededRandom(seed);
  const levels = new Float64Array(seriesCount);
  settleHeap();
  const before = process.memoryUsage();
  const engine = makeEngine(fitter);
  // Warm up past the first fit of every series, so the timed part is the steady state.
  drive(engine, 250, random, levels);
  const start = process.cpuUsage();
  drive(engine, seconds, random, levels);
  const cpu = process.cpuUsage(start);
  settleHeap();
  const after = process.memoryUsage();
  const bytes = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  if (engine.size !== seriesCount) throw new Error('engine lost series');
  return { cpuMicrosecondsPerSample: (cpu.user + cpu.system) / (seconds * seriesCount), bytesPerSeries: bytes / seriesCount };
}

function numberArgument(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(args[index + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/** Runs the benchmark. */
export async function run(args: string[]): Promise<void> {
  const seconds = numberArgument(args, 'seconds', secondsDefault);
  const rounds = numberArgument(args, 'rounds', roundsDefault);
  const results = new Map<string, Measurement[]>();
  // An untimed round first: it instantiates the WASM kernel (one instance, shared by every model)
  // and warms the JIT, so neither lands on the first measured engine.
  for (const fitter of [kernelFitter, referenceFitter]) measure(fitter, 50, 1);
  for (let round = 0; round < rounds; round++) {
    for (const fitter of [kernelFitter, referenceFitter]) {
      results.set(fitter.name, [...(results.get(fitter.name) ?? []), measure(fitter, seconds, 0x5eed + round)]);
    }
  }
  const summary = [...results].map(([name, list]) => ({
    name,
    cpu: median(list.map((m) => m.cpuMicrosecondsPerSample)),
    bytes: median(list.map((m) => m.bytesPerSeries)),
  }));
  const reference = summary.find((s) => s.name === 'reference')!;
  console.log(`${seriesCount} series at 1 Hz, scored every second; ${seconds} s simulated per round, median of ${rounds} rounds`);
  console.log(
    table([
      ['engine', 'CPU µs/sample', '% of a core (100 series @ 1 Hz)', 'KB/series', 'MB for 100', 'CPU vs reference'],
      ...summary.map((s) => [s.name, s.cpu, (s.cpu * seriesCount) / 1e4, s.bytes / 1024, (s.bytes * seriesCount) / 1048576, reference.cpu / s.cpu]),
    ]),
  );
  const kernel = summary.find((s) => s.name === 'kernel')!;
  const cpuPercent = (kernel.cpu * seriesCount) / 1e4;
  const memory = kernel.bytes * seriesCount;
  console.log(`target: < ${cpuTargetPercent}% of one core: ${cpuPercent < cpuTargetPercent ? 'met' : 'NOT met'} (${cpuPercent.toFixed(2)}%)`);
  console.log(`target: < 20 MB for 100 series: ${memory < memoryTargetBytes ? 'met' : 'NOT met'} (${(memory / 1048576).toFixed(2)} MB)`);
}
