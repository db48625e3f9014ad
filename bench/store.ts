/**
 * `npm run bench -- store [rounds]`: the replicated write path on loopback, every figure next to
 * a peer measured in the same run. Writes per second and write-ack latency (p50, p99) with `batch`
 * fsync through the data port, with 1 and 2 shadows against 0 shadows (the local store only);
 * bytes on the wire per JSON-document update with deltas against deltas off. Medians of rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataPortClient, ShardHost } from '../src/replication/index.js';
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

/** Entry point of `npm run bench -- store [rounds]`. */
export async function run(args: string[]): Promise<void> {
  const rounds = Math.max(1, Number(args[0] ?? 3));
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
