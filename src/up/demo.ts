import { connect, ForeshardError, type ForeshardClient } from '../client/index.js';
import type { Logger } from '../common/log.js';

/** Options of the `--demo` background workload. */
export interface DemoOptions {
  gatewayUrl: string;
  token?: string;
  /** Operations per second, split evenly between puts and gets. */
  opsPerSecond: number;
  /** Keys written and read, `demo:<n>`. */
  keyCount: number;
  /** How often one line of progress is logged. */
  reportEveryMs: number;
}

/** What the demo workload has seen so far. */
export interface DemoStats {
  ops: number;
  errors: number;
  /** Reads that returned a value older than the last acknowledged write of that key. */
  staleReads: number;
  latencyMsMax: number;
}

/**
 * A small steady workload through the gateway, so a newcomer sees traffic, scores and switches.
 * It keeps the last acknowledged value of each key and checks every read against it, so a lost
 * write or a stale read shows up in its progress line, not only in the tests.
 */
export async function startDemoWorkload(options: DemoOptions, logger: Logger): Promise<{ stats: DemoStats; stop(): Promise<void> }> {
  const client: ForeshardClient = await connect(options.gatewayUrl, { ...(options.token ? { token: options.token } : {}), framing: 'text' });
  const stats: DemoStats = { ops: 0, errors: 0, staleReads: 0, latencyMsMax: 0 };
  const acknowledged = new Map<string, number>();
  let sequence = 0;
  let windowLatencies: number[] = [];
  let stopped = false;

  const oneOp = async (): Promise<void> => {
    const key = `demo:${Math.floor(Math.random() * options.keyCount)}`;
    const started = performance.now();
    try {
      if (Math.random() < 0.5) {
        const value = ++sequence;
        await client.put(key, String(value));
        acknowledged.set(key, Math.max(acknowledged.get(key) ?? 0, value));
      } else {
        const floor = acknowledged.get(key) ?? 0;
        const read = await client.getString(key);
        if (floor > 0 && (read === null || Number(read) < floor)) stats.staleReads++;
      }
      stats.ops++;
    } catch (error) {
      if (stopped) return; // cut off by the stop (Ctrl-C on `up`): not a failure of the cluster
      stats.errors++;
      if (!(error instanceof ForeshardError) || stats.errors <= 5) logger.warn('demo request failed', { error: (error as Error).message });
    }
    const latencyMs = performance.now() - started;
    windowLatencies.push(latencyMs);
    stats.latencyMsMax = Math.max(stats.latencyMsMax, latencyMs);
  };

  const intervalMs = 1000 / options.opsPerSecond;
  const ticker = setInterval(() => {
    if (!stopped) void oneOp();
  }, Math.max(1, intervalMs));
  const reporter = setInterval(() => {
    const sorted = windowLatencies.sort((a, b) => a - b);
    const p99 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]! : 0;
    logger.info(`demo: ${stats.ops} ops, ${stats.errors} errors, ${stats.staleReads} stale reads, p99 ${p99.toFixed(1)} ms (last ${options.reportEveryMs / 1000} s)`);
    windowLatencies = [];
  }, options.reportEveryMs);
  return {
    stats,
    async stop() {
      stopped = true;
      clearInterval(ticker);
      clearInterval(reporter);
      await client.close();
    },
  };
}
