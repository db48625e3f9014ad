/**
 * `npm run bench -- gateway [seconds]`: get and put through the gateway to the agents, against the
 * same load sent by the same kind of client straight to the agents' data ports, in the same run:
 * ops/s, p50 and p99 latency, and the ratio gateway/direct (target: >= 0.70). Then the pause that
 * clients saw during planned switches: the latency of the requests that started while a shard was
 * switching (p50, p99, max).
 *
 * Both clients are minimal pipelined `ws` clients (CBOR frames, `depth` requests in flight per
 * connection, `connections` connections), so the difference is the gateway hop alone. The cluster
 * is real: an embedded broker, two ShardHosts (each primary of two shards and shadow of the other
 * two, minShadowAcks 1, fsync none), the routing table published as the coordinator would.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { decodeCbor, decodeDataFrame, encodeCbor, encodeDataFrame, type ShardRoute } from '../src/protocol/index.js';
import { shardOfKey } from '../src/gateway/index.js';
import { plannedSwitch, routesOf, startTestCluster, type TestCluster } from '../test/gateway/cluster.js';
import { quantile, table } from './lib/stats.js';

const SHARDS = 4;
const CONNECTIONS = 8;
const DEPTH = 16;
const KEYS = 1_000;
const VALUE = Buffer.alloc(256, 7);

type Op = 'get' | 'put';
type Send = (op: Op, key: string) => Promise<void>;

/** A pipelined connection; `frame` builds the request frame for a pairing id. */
async function openPipelined(url: string, hello: Uint8Array | undefined, frame: (id: number, op: Op, key: string) => Uint8Array, idOf: (decoded: Record<string, unknown>) => number): Promise<{ send: Send; close(): void }> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  const waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let welcomed: Promise<void> = Promise.resolve();
  if (hello) {
    welcomed = new Promise((resolve) => socket.once('message', () => resolve()));
    socket.send(hello);
    await welcomed;
  }
  socket.on('message', (data: Buffer) => {
    const decoded = (hello ? decodeDataFrame(new Uint8Array(data)) : decodeCbor(new Uint8Array(data), 1 << 24)) as unknown as Record<string, unknown>;
    const id = idOf(decoded);
    const entry = waiting.get(id);
    waiting.delete(id);
    if (decoded.ok === true) entry?.resolve();
    else entry?.reject(new Error(JSON.stringify(decoded.error)));
  });
  return {
    send: (op, key) =>
      new Promise<void>((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        socket.send(frame(id, op, key));
      }),
    close: () => socket.terminate(),
  };
}

/** A gateway client: §5.1 CBOR frames. */
function gatewayConnection(url: string): ReturnType<typeof openPipelined> {
  return openPipelined(url, undefined, (id, op, key) => encodeCbor(op === 'put' ? { id, op, key, value: VALUE } : { id, op, key }), (decoded) => decoded.id as number);
}

/** A direct client: one data port connection per agent, routed by the same hash and table. */
async function directConnection(routes: ShardRoute[]): Promise<{ send: Send; close(): void }> {
  const byUrl = new Map<string, Awaited<ReturnType<typeof openPipelined>>>();
  const hello = encodeDataFrame({ type: 'hello', version: 1, role: 'gateway', node: 'bench' });
  const utf8 = new TextEncoder();
  for (const route of routes) {
    const url = route.dataUrls[route.primary!]!;
    if (byUrl.has(url)) continue;
    byUrl.set(url, await openPipelined(url, hello, (rid, op, key) => {
      const bytes = utf8.encode(key);
      const target = routes[shardOfKey(bytes, SHARDS)]!;
      return encodeDataFrame(op === 'put' ? { type: 'request', rid, op, shard: target.id, epoch: target.epoch, key: bytes, value: VALUE } : { type: 'request', rid, op, shard: target.id, epoch: target.epoch, key: bytes });
    }, (decoded) => decoded.rid as number));
  }
  return {
    send: (op, key) => {
      const target = routes[shardOfKey(key, SHARDS)]!;
      return byUrl.get(target.dataUrls[target.primary!]!)!.send(op, key);
    },
    close: () => byUrl.forEach((connection) => connection.close()),
  };
}

/** Runs `op` from every connection, `DEPTH` at a time each, for `seconds`; returns ops/s and latencies. */
async function load(connections: { send: Send }[], op: Op, seconds: number): Promise<{ opsPerSecond: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  const endMs = performance.now() + seconds * 1000;
  let next = 0;
  const worker = async (connection: { send: Send }): Promise<void> => {
    while (performance.now() < endMs) {
      const started = performance.now();
      await connection.send(op, `key-${next++ % KEYS}`);
      latenciesMs.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(connections.flatMap((connection) => Array.from({ length: DEPTH }, () => worker(connection))));
  return { opsPerSecond: latenciesMs.length / ((performance.now() - started) / 1000), latenciesMs };
}

/** Puts continuously through the gateway while `rounds` planned switches happen; the latencies of requests started mid-switch. */
async function switchPauses(cluster: TestCluster, url: string, routes: ShardRoute[], rounds: number): Promise<number[]> {
  const connections = await Promise.all(Array.from({ length: CONNECTIONS }, () => gatewayConnection(url)));
  const windows: [number, number][] = [];
  const samples: { startMs: number; latencyMs: number }[] = [];
  let running = true;
  let next = 0;
  const worker = async (connection: { send: Send }): Promise<void> => {
    while (running) {
      const startMs = performance.now();
      await connection.send('put', `key-${next++ % KEYS}`);
      samples.push({ startMs, latencyMs: performance.now() - startMs });
    }
  };
  const workers = connections.map(worker);
  for (let round = 0; round < rounds; round++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const startMs = performance.now();
    await plannedSwitch(cluster, SHARDS, routes, round % SHARDS);
    windows.push([startMs, performance.now()]);
  }
  running = false;
  await Promise.all(workers);
  connections.forEach((connection) => connection.close());
  return samples.filter((sample) => windows.some(([from, to]) => sample.startMs >= from && sample.startMs <= to)).map((sample) => sample.latencyMs);
}

/** Entry point for bench/main.ts. */
export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 2);
  const primaries = { a: [0, 1], b: [2, 3] };
  const shadows = { b: [0, 1], a: [2, 3] };
  const cluster = await startTestCluster(['a', 'b'], primaries, shadows, { minShadowAcks: 1 });
  try {
    const routes = routesOf(cluster, SHARDS, primaries, shadows);
    await cluster.publish(SHARDS, routes);
    const gateway = await cluster.startGateway({ maxPauseMs: 10_000 });
    const viaGateway = await Promise.all(Array.from({ length: CONNECTIONS }, () => gatewayConnection(gateway.url)));
    const direct = await Promise.all(Array.from({ length: CONNECTIONS }, () => directConnection(routes)));
    const rows: (string | number)[][] = [['op', 'path', 'ops/s', 'p50 ms', 'p99 ms', 'gateway/direct']];
    for (const op of ['put', 'get'] as const) {
      const directResult = await load(direct, op, seconds);
      const gatewayResult = await load(viaGateway, op, seconds);
      rows.push([op, 'direct', directResult.opsPerSecond, quantile(directResult.latenciesMs, 0.5), quantile(directResult.latenciesMs, 0.99), '']);
      rows.push([op, 'gateway', gatewayResult.opsPerSecond, quantile(gatewayResult.latenciesMs, 0.5), quantile(gatewayResult.latenciesMs, 0.99), gatewayResult.opsPerSecond / directResult.opsPerSecond]);
    }
    viaGateway.forEach((connection) => connection.close());
    direct.forEach((connection) => connection.close());
    console.log(`${CONNECTIONS} connections x ${DEPTH} in flight, ${VALUE.byteLength}-byte values, ${seconds} s per row`);
    console.log(table(rows));
    const pauses = await switchPauses(cluster, gateway.url, routes, 4);
    console.log(`\nplanned switches: 4; requests started mid-switch: ${pauses.length}`);
    console.log(table([['pause', 'p50 ms', 'p99 ms', 'max ms'], ['latency', quantile(pauses, 0.5), quantile(pauses, 0.99), Math.max(...pauses)]]));
  } finally {
    await cluster.close();
  }
}
