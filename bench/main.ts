/**
 * `npm run bench -- <name> [args]`: runs one benchmark, or all of them with no name. Each benchmark
 * prints its figures next to a peer measured in the same run, as ratios.
 */
interface Benchmark {
  summary: string;
  load(): Promise<{ run(args: string[]): Promise<void> }>;
}

// One line per benchmark; each module exports `run(args)`.
const benchmarks: Record<string, Benchmark> = {
  coordinator: { summary: 'decision time per score update at 1,000 nodes / 10,000 shards vs a full-scan peer', load: () => import('./coordinator.js') },
  predict: { summary: 'scoring engine: CPU per sample and memory per series, kernel vs TS reference', load: () => import('./predict.js') },
  delta: { summary: 'delta codec (WASM, TS reference) vs fossil-delta: MB/s and delta bytes', load: () => import('./delta.js') },
  agent: { summary: 'a real agent process: CPU and RSS with 100 series at 1 Hz vs prediction off, an idle node process and a bare mqtt.js publisher', load: () => import('./agent.js') },
  store: { summary: 'replicated writes on loopback: writes/s and ack p50/p99 with 0/1/2 shadows; wire bytes with and without deltas', load: () => import('./store.js') },
  arima: { summary: 'ARIMA rolling-origin MAE and fits/s on NAB AWS series vs npm arima and naive; streaming updates/s', load: () => import('./arima.js') },
  gateway: { summary: 'gateway vs direct data port: get/put ops/s, p50/p99, ratio; pause seen during planned switches', load: () => import('./gateway.js') },
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (name === '--help' || name === '-h') {
    console.log('Usage: npm run bench -- [name] [args]\n');
    for (const [key, bench] of Object.entries(benchmarks)) console.log(`  ${key.padEnd(10)} ${bench.summary}`);
    return;
  }
  const selected = name === undefined ? Object.keys(benchmarks) : [name];
  for (const key of selected) {
    const bench = benchmarks[key];
    if (!bench) {
      console.error(`bench: unknown benchmark ${JSON.stringify(key)}; known: ${Object.keys(benchmarks).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    console.log(`== ${key}: ${bench.summary}`);
    await (await bench.load()).run(args);
  }
}

await main();
