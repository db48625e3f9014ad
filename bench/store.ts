/**
 * `npm run bench -- store [rounds]`: the replicated write path on loopback, every figure next to
 * a peer measured in the same run. Writes per second and write-ack latency (p50, p99) with `batch`
 * fsync through the data port, with 1 and 2 shadows against 0 shadows (the local store only);
 * bytes on the wire per JSON-document update with deltas against deltas off. Medians of rounds.
 *
 * `npm run bench -- store [rounds] --page-out`: instead, what the agent's start-up page-out
 * (src/agent/page-out.ts) does to the write path. Each round, in one process holding a primary, a
 * shadow and the client: a load before the page-out (the peer), the same load right after it (the
 * code faults back in as it runs), and once more after that; writes/s, ack p99 and max, and the page
 * faults that read the disk during each load. Run it with no other node process on the machine, or
 * the kernel keeps the pages that process also maps and little is paged out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataPortClient, ShardHost } from '../src/replication/index.js';
import { loadPageOut } from '../src/agent/page-out.js';
import { procStatFields } from '../src/common/proc-stat.js';
import { median, quantile, table } from './lib/stats.js';

const WRITES = 20_000;
const IN_FLIGHT = 512;
const KEYS = 5_000;
const DOC_UPDATES = 5_000;

interface Cluster {
  primary: ShardHost;
  shadows: ShardHost[];
  client: DataPortClient;
  stop(): Promise<void>;
}

async function startCluster(shadowCount: number, deltas: boolean): Promise<Cluster> {
  const dirs: string[] = [];
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'foreshard-bench-'));
    dirs.push(d);
    return d;
  };
  const common = { fsyncPolicy: 'batch' as const, batchMs: 2, applyDelayMs: 1_000, deltas };
  const primary = await ShardHost.start({ ...common, dataDir: dir(), node: 'p1', minShadowAcks: shadowCount });
  await primary.openShard(0, 'primary', 1);
  const shadows: ShardHost[] = [];
  for (let i = 0; i < shadowCount; i++) {
    const shadow = await ShardHost.start({ ...common, dataDir: dir(), node: `s${i}` });
    await shadow.addShadow(0, 1, { node: 'p1', dataUrl: primary.dataUrl });
    shadows.push(shadow);
  }
  const client = await DataPortClient.connect({ url: primary.dataUrl, node: 'bench' });
  // The first write waits until every shadow streams, so rounds measure steady state.
  for (;;) {
    const response = await client.request({ op: 'put', shard: 0, epoch: 1, key: Buffer.from('warm'), value: Buffer.from('up') });
    if (response.ok && primary.reportShard(0).shadows!.filter((s) => s.phase === 'live').length === shadowCount) break;
  }
  return {
    primary, shadows, client,
    stop: async () => {
      client.close();
      for (const s of shadows) await s.close();
      await primary.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Runs `count` writes IN_FLIGHT at a time; returns writes/s and each write's ack latency in ms. */
async function writeLoad(client: DataPortClient, count: number, valueFor: (i: number) => { key: Buffer; value: Buffer }): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const { key, value } = valueFor(next++);
      const t0 = performance.now();
      const response = await client.request({ op: 'put', shard: 0, epoch: 1, key, value });
      if (!response.ok) throw new Error(`bench write failed: ${response.error.code} ${response.error.message}`);
      latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { perSecond: (count * 1000) / (performance.now() - started), latenciesMs };
}

const smallValue = (i: number): { key: Buffer; value: Buffer } => ({ key: Buffer.from(`k${i % KEYS}`), value: Buffer.alloc(100, i % 251) });

function jsonDocument(i: number): { key: Buffer; value: Buffer } {
  const id = i % 100;
  const doc = { id, version: i, owner: `user-${id}`, tags: Array.from({ length: 16 }, (_, t) => `tag-${t}`), body: `document ${id} `.repeat(30), updatedAt: 1_700_000_000_000 + i };
  return { key: Buffer.from(`doc:${id}`), value: Buffer.from(JSON.stringify(doc)) };
}

async function throughputRound(shadowCount: number): Promise<{ perSecond: number; p50: number; p99: number }> {
  const cluster = await startCluster(shadowCount, true);
  try {
    const { perSecond, latenciesMs } = await writeLoad(cluster.client, WRITES, smallValue);
    return { perSecond, p50: quantile(latenciesMs, 0.5), p99: quantile(latenciesMs, 0.99) };
  } finally {
    await cluster.stop();
  }
}

async function wireRound(deltas: boolean): Promise<number> {
  const cluster = await startCluster(1, deltas);
  try {
    const before = cluster.primary.stats();
    await writeLoad(cluster.client, DOC_UPDATES, jsonDocument);
    const after = cluster.primary.stats();
    return (after.frameBytesSent - before.frameBytesSent) / (after.framesSent - before.framesSent);
  } finally {
    await cluster.stop();
  }
}

/** Page faults of this process that read the disk (proc(5), /proc/self/stat field 12). */
function majorFaults(): number {
  return Number(procStatFields('self')[9]);
}

/** The write path before and right after a page-out of this process's start-up code. */
async function pageOutRounds(rounds: number): Promise<void> {
  const loaded = loadPageOut();
  if ('unavailable' in loaded) throw new Error(`no page-out here: ${loaded.unavailable}`);
  const phases = ['before the page-out (peer)', 'right after the page-out', 'after that'] as const;
  const figures = phases.map(() => ({ perSecond: [] as number[], p99: [] as number[], max: [] as number[], faults: [] as number[] }));
  const released: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const cluster = await startCluster(1, true);
    try {
      await writeLoad(cluster.client, WRITES, smallValue); // warm-up: JIT and buffers, as in a running agent
      for (let phase = 0; phase < phases.length; phase++) {
        if (phase === 1) {
          const outcome = loaded.pageOut();
          released.push(outcome.rssBeforeBytes - outcome.rssAfterBytes);
        }
        const faults = majorFaults();
        const { perSecond, latenciesMs } = await writeLoad(cluster.client, WRITES, smallValue);
        const entry = figures[phase]!;
        entry.perSecond.push(perSecond);
        entry.p99.push(quantile(latenciesMs, 0.99));
        entry.max.push(Math.max(...latenciesMs));
        entry.faults.push(majorFaults() - faults);
      }
    } finally {
      await cluster.stop();
    }
  }
  const base = figures[0]!;
  console.log(`${WRITES} puts of 100 B, ${IN_FLIGHT} in flight, 1 shadow, batch fsync (2 ms), loopback, after a warm-up load; medians of ${rounds} rounds; the page-out released ${(median(released) / 1024 / 1024).toFixed(1)} MB of RSS (median)`);
  console.log(table([
    ['load', 'writes/s', 'vs before', 'ack p99 ms', 'vs before', 'ack max ms', 'vs before', 'faults that read the disk'],
    ...phases.map((name, i) => {
      const f = figures[i]!;
      return [name, median(f.perSecond), median(f.perSecond) / median(base.perSecond), median(f.p99), median(f.p99) / median(base.p99), median(f.max), median(f.max) / median(base.max), median(f.faults)];
    }),
  ]));
}

/** Entry point of `npm run bench -- store [rounds] [--page-out]`. */
export async function run(args: string[]): Promise<void> {
  const pageOut = args.includes('--page-out');
  const rounds = Math.max(1, Number(args.filter((a) => a !== '--page-out')[0] ?? 3));
  if (pageOut) return pageOutRounds(rounds);
  const results = new Map<number, { perSecond: number[]; p50: number[]; p99: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const shadows of [0, 1, 2]) {
      const r = await throughputRound(shadows);
      const entry = results.get(shadows) ?? { perSecond: [], p50: [], p99: [] };
      entry.perSecond.push(r.perSecond);
      entry.p50.push(r.p50);
      entry.p99.push(r.p99);
      results.set(shadows, entry);
    }
  }
  const base = results.get(0)!;
  const rows: (string | number)[][] = [['shadows (minShadowAcks)', 'writes/s', 'vs 0', 'ack p50 ms', 'vs 0', 'ack p99 ms', 'vs 0']];
  for (const [shadows, r] of results) {
    rows.push([`${shadows}`, median(r.perSecond), median(r.perSecond) / median(base.perSecond), median(r.p50), median(r.p50) / median(base.p50), median(r.p99), median(r.p99) / median(base.p99)]);
  }
  console.log(`${WRITES} puts of 100 B over ${KEYS} keys, ${IN_FLIGHT} in flight, batch fsync (2 ms), loopback; medians of ${rounds} rounds`);
  console.log(table(rows));

  const withDeltas: number[] = [];
  const without: number[] = [];
  for (let round = 0; round < rounds; round++) {
    withDeltas.push(await wireRound(true));
    without.push(await wireRound(false));
  }
  console.log(`\n${DOC_UPDATES} updates of ~${jsonDocument(0).value.length} B JSON documents (100 docs, one field changes), 1 shadow`);
  console.log(table([
    ['replication frames', 'bytes/write', 'vs deltas off'],
    ['deltas on', median(withDeltas), median(withDeltas) / median(without)],
    ['deltas off (peer)', median(without), 1],
  ]));
}
