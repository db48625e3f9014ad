// Proves a planned switch is invisible to clients but for latency (DESIGN.md §3, §5.1): eight
// clients (our client library, four over CBOR and four over JSON) write and read continuously
// through the gateway while two shards are switched to their shadows by hand, exactly as the
// coordinator would, on real ShardHosts, real data ports and a real broker. A history checker then
// asserts zero errors, that every acknowledged write reads back afterwards, and that no read
// returned a value older than the last write acknowledged before the read began (single-key
// linearizability; each key has one writer, so its versions are totally ordered).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { connect, type ForeshardClient } from '../../src/client/index.js';
import { plannedSwitch, routesOf, startTestCluster, type TestCluster } from './cluster.js';
import { seededRandom, testSeed, withSeed } from './helpers.js';
import type { Gateway } from '../../src/gateway/index.js';
import type { ShardRoute } from '../../src/protocol/index.js';

const SHARDS = 4;
const CLIENTS = 8;
const KEYS_PER_CLIENT = 6;
const primaries = { a: [0, 1], b: [2, 3] };
const shadows = { b: [0, 1], a: [2, 3] };

interface Read {
  key: string;
  startMs: number;
  endMs: number;
  version: number;
}

/** Per key: the version acknowledged at each ack time (one writer per key, so in order). */
interface WriteLog {
  ackedAtMs: number[];
  versions: number[];
  started: number;
}

let cluster: TestCluster;
let gateway: Gateway;
let routes: ShardRoute[];

before(async () => {
  cluster = await startTestCluster(['a', 'b'], primaries, shadows, { minShadowAcks: 1 });
  routes = routesOf(cluster, SHARDS, primaries, shadows);
  await cluster.publish(SHARDS, routes);
  gateway = await cluster.startGateway({ maxPauseMs: 10_000 });
});

after(async () => {
  await cluster.close();
});

const versionOf = (value: string | null): number => (value === null ? 0 : Number(value.split(':')[1]));

test('eight clients see no errors and a linearizable history across two planned switches', { timeout: 30_000 }, async () => {
  const seed = testSeed();
  await withSeed(seed, async () => {
    const random = seededRandom(seed);
    const clients: ForeshardClient[] = [];
    for (let index = 0; index < CLIENTS; index++) clients.push(await connect(gateway.url, { framing: index % 2 === 0 ? 'binary' : 'text', requestTimeoutMs: 15_000 }));
    const keys = clients.map((_, owner) => Array.from({ length: KEYS_PER_CLIENT }, (_, n) => `c${owner}-k${n}`));
    const allKeys = keys.flat();
    const writes = new Map<string, WriteLog>(allKeys.map((key) => [key, { ackedAtMs: [], versions: [], started: 0 }]));
    const reads: Read[] = [];
    const errors: string[] = [];
    let running = true;
    const loop = async (owner: number): Promise<void> => {
      const client = clients[owner]!;
      while (running) {
        try {
          if (random() < 0.5) {
            const key = keys[owner]![Math.floor(random() * KEYS_PER_CLIENT)]!;
            const log = writes.get(key)!;
            const version = ++log.started;
            await client.put(key, `${owner}:${version}`);
            log.ackedAtMs.push(performance.now());
            log.versions.push(version);
          } else {
            const key = allKeys[Math.floor(random() * allKeys.length)]!;
            const startMs = performance.now();
            const value = await client.getString(key);
            reads.push({ key, startMs, endMs: performance.now(), version: versionOf(value) });
          }
        } catch (error) {
          errors.push(`${(error as { code?: string }).code}: ${(error as Error).message}`);
        }
      }
    };
    const loops = clients.map((_, owner) => loop(owner));
    await new Promise((resolve) => setTimeout(resolve, 400));
    await plannedSwitch(cluster, SHARDS, routes, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await plannedSwitch(cluster, SHARDS, routes, 2);
    await new Promise((resolve) => setTimeout(resolve, 400));
    running = false;
    await Promise.all(loops);

    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} errors`);
    const acknowledged = [...writes.values()].reduce((sum, log) => sum + log.versions.length, 0);
    assert.ok(acknowledged > 100 && reads.length > 100, `enough load: ${acknowledged} writes, ${reads.length} reads`);
    assert.equal(routes[0]!.primary, 'b');
    assert.equal(routes[2]!.primary, 'a');

    // No stale read: a read sees at least the last version acknowledged before it began, and never
    // a version whose write began after it ended (versions are only written in order per key).
    for (const read of reads) {
      const log = writes.get(read.key)!;
      let floor = 0;
      for (let index = 0; index < log.ackedAtMs.length && log.ackedAtMs[index]! < read.startMs; index++) floor = log.versions[index]!;
      assert.ok(read.version >= floor, `read of ${read.key} returned version ${read.version}, older than acknowledged ${floor}`);
      assert.ok(read.version <= log.started, `read of ${read.key} returned version ${read.version} that was never written`);
    }
    // Every acknowledged write reads back afterwards (the last one per key, from a fresh client).
    const checker = await connect(gateway.url);
    for (const [key, log] of writes) {
      const last = log.versions.at(-1) ?? 0;
      assert.equal(versionOf(await checker.getString(key)), last, `${key} reads back its last acknowledged write`);
    }
    await checker.close();
    for (const client of clients) await client.close();
  });
});
