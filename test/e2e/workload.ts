// A paced client workload for the end-to-end scenarios (test/e2e/): puts and gets through the
// gateway with the client library, at a fixed rate, never two operations on one key at once. It
// remembers every acknowledged write (and, for a put that failed with an unknown outcome, that value
// as a possible one), checks every read against the last acknowledged value of its key, records every
// error, and the start time, latency and shard of every request, so a scenario can ask what clients
// saw in any time window and read every key back at the end.
import type { ForeshardClient } from '../../src/client/index.js';
import { shardOfKey } from '../../src/gateway/hash.js';

/** One finished request. */
export interface RequestRecord {
  op: 'put' | 'get';
  key: string;
  startedAtMs: number;
  latencyMs: number;
  ok: boolean;
  /** The key's shard. */
  shard: number;
  code?: string;
}

/** What `startWorkload` takes. */
export interface WorkloadOptions {
  /** Operations per second, puts and gets together. */
  opsPerSecond: number;
  /** Fraction of operations that are puts (the rest are gets of written keys). */
  putFraction?: number;
  /** Distinct keys written; a key is reused once every key has been written. */
  keyCount?: number;
  prefix: string;
  /** The cluster's shard count, to name each request's shard. */
  shardCount: number;
}

/** A running workload. */
export interface Workload {
  readonly records: RequestRecord[];
  /** Errors, one line each: `op key: CODE message`. */
  readonly failures: string[];
  /** Reads that did not return the last acknowledged value of a key with no write in flight. */
  readonly staleReads: string[];
  /** Key → the last acknowledged value. */
  readonly acknowledged: Map<string, string>;
  /** Key → every value it may hold: the last acknowledged one and any later write whose outcome is unknown. */
  readonly possible: Map<string, Set<string>>;
  stop(): Promise<void>;
}

/** Starts issuing operations at `opsPerSecond` on `client` until `stop()`. */
export function startWorkload(client: ForeshardClient, options: WorkloadOptions): Workload {
  const putFraction = options.putFraction ?? 0.5;
  const keyCount = options.keyCount ?? 2_000;
  const records: RequestRecord[] = [];
  const failures: string[] = [];
  const staleReads: string[] = [];
  const acknowledged = new Map<string, string>();
  const possible = new Map<string, Set<string>>();
  const busy = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let sequence = 0;
  let readCursor = 0;

  const run = (op: 'put' | 'get', key: string, work: () => Promise<unknown>): void => {
    busy.add(key);
    const shard = shardOfKey(key, options.shardCount);
    const startedAtMs = Date.now();
    const started = performance.now();
    const promise = work().then(
      () => {
        records.push({ op, key, startedAtMs, latencyMs: performance.now() - started, ok: true, shard });
      },
      (error: unknown) => {
        const code = (error as { code?: string }).code ?? 'ERROR';
        records.push({ op, key, startedAtMs, latencyMs: performance.now() - started, ok: false, shard, code });
        failures.push(`${op} ${key}: ${code} ${(error as Error).message}`);
      },
    ).finally(() => {
      busy.delete(key);
      inFlight.delete(promise);
    });
    inFlight.add(promise);
  };

  const put = (): void => {
    for (let tries = 0; tries < 16; tries++) {
      const key = `${options.prefix}-${sequence % keyCount}`;
      const value = `v${sequence}`;
      sequence += 1;
      if (busy.has(key)) continue;
      run('put', key, async () => {
        try {
          const result = await client.put(key, value);
          acknowledged.set(key, value);
          possible.set(key, new Set([value]));
          return result;
        } catch (error) {
          // TIMEOUT or DISCONNECTED leave the outcome unknown: the key may hold this value now.
          const code = (error as { code?: string }).code;
          if (code !== 'UNAVAILABLE' && code !== 'BAD_REQUEST' && code !== 'TOO_LARGE') {
            const values = possible.get(key) ?? new Set<string>();
            values.add(value);
            possible.set(key, values);
          }
          throw error;
        }
      });
      return;
    }
  };

  const get = (): void => {
    const keys = [...acknowledged.keys()];
    if (keys.length === 0) return put();
    for (let tries = 0; tries < 16; tries++) {
      const key = keys[readCursor++ % keys.length]!;
      if (busy.has(key)) continue;
      const expected = possible.get(key)!;
      run('get', key, async () => {
        const value = await client.getString(key);
        if (value === null || !expected.has(value)) staleReads.push(`${key}: read ${JSON.stringify(value)}, expected one of ${JSON.stringify([...expected])}`);
      });
      return;
    }
  };

  // A 20 ms tick issues the operations due since the last tick, so the rate holds on a busy machine.
  const startedAt = performance.now();
  let issued = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - startedAt) / 1000) * options.opsPerSecond) - issued;
    for (let i = 0; i < due; i++) {
      issued += 1;
      if (Math.random() < putFraction) put();
      else get();
    }
  }, 20);
  // A scenario that fails half-way must not keep the test process alive; its after() hook stops it too.
  timer.unref();

  return {
    records,
    failures,
    staleReads,
    acknowledged,
    possible,
    async stop() {
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** Reads every written key back; returns the keys whose value is not one it may hold (see `possible`). */
export async function readBack(client: ForeshardClient, workload: Workload): Promise<string[]> {
  const lost: string[] = [];
  const keys = [...workload.possible.keys()].filter((key) => workload.acknowledged.has(key));
  for (let index = 0; index < keys.length; index += 100) {
    await Promise.all(keys.slice(index, index + 100).map(async (key) => {
      const value = await client.getString(key);
      if (value === null || !workload.possible.get(key)!.has(value)) lost.push(`${key}: read ${JSON.stringify(value)}, last acknowledged ${JSON.stringify(workload.acknowledged.get(key))}`);
    }));
  }
  return lost;
}

/** The p-quantile (0..1) of `values`, nearest rank; NaN when empty. */
export function quantile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** `p50 … p99 … max …` of the latencies of requests started in [fromMs, toMs] (on `shards`, when given). */
export function pauseSummary(workload: Workload, fromMs: number, toMs: number, shards?: Set<number>): { count: number; p50: number; p99: number; max: number; text: string } {
  const latencies = workload.records
    .filter((r) => r.startedAtMs >= fromMs && r.startedAtMs <= toMs && (shards === undefined || shards.has(r.shard)))
    .map((r) => r.latencyMs);
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  const max = latencies.length === 0 ? Number.NaN : Math.max(...latencies);
  return { count: latencies.length, p50, p99, max, text: `${latencies.length} requests, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms` };
}
