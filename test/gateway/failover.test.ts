// A primary that dies takes its data port connection with it. Until the coordinator fails the shard
// over, routing still names the dead primary, so the gateway holds the shard's requests, for up to
// `maxPauseMs`, rather than answer UNAVAILABLE (docs/gateway.md, "Forwarding"). These tests kill a
// real ShardHost under a real gateway and a real broker, then fail the shard over by hand exactly as
// the coordinator's unplanned failover does (promote the shadow with the most, repoint the other).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { connect, ForeshardError, type ForeshardClient } from '../../src/client/index.js';
import { routesOf, startTestCluster, type TestCluster } from './cluster.js';
import type { Gateway } from '../../src/gateway/index.js';

let cluster: TestCluster;
let gateway: Gateway;
let client: ForeshardClient;

before(async () => {
  // One shard, so every key is on it: primary a, shadows b and c; a write waits for one shadow.
  cluster = await startTestCluster(['a', 'b', 'c'], { a: [0] }, { b: [0], c: [0] }, { minShadowAcks: 1 });
  await cluster.publish(1, routesOf(cluster, 1, { a: [0] }, { b: [0], c: [0] }));
  gateway = await cluster.startGateway({ maxPauseMs: 5_000 });
  client = await connect(gateway.url, { requestTimeoutMs: 15_000 });
});

after(async () => {
  await client.close();
  await cluster.close();
});

const agent = (node: string) => cluster.agents.find((candidate) => candidate.node === node)!;

test('requests to a primary that died wait for the failover and are answered by the new primary', { timeout: 20_000 }, async () => {
  const { lsn } = await client.put('before', 'acked');
  assert.ok(lsn !== undefined, 'a write is acknowledged with its lsn');
  await agent('a').host.close();

  const startedAtMs = performance.now();
  const settledAtMs: number[] = [];
  const writes = Array.from({ length: 20 }, (_, n) => client.put(`k${n}`, `v${n}`).finally(() => settledAtMs.push(performance.now())));
  const reads = [client.getString('before').finally(() => settledAtMs.push(performance.now()))];
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(settledAtMs.length, 0, 'nothing is answered while routing still names the dead primary');

  // The coordinator's unplanned failover: the shadow with the most is promoted, the other follows it.
  await agent('b').host.promote(0, 2, lsn);
  await agent('c').host.follow(0, 2, { node: 'b', dataUrl: agent('b').url });
  await cluster.publish(1, [{ id: 0, epoch: 2, primary: 'b', shadows: ['c'], writes: 'open', dataUrls: { b: agent('b').url, c: agent('c').url } }]);

  const results = await Promise.allSettled([...writes, ...reads]);
  const failures = results.filter((result) => result.status === 'rejected').map((result) => String((result as PromiseRejectedResult).reason));
  assert.deepEqual(failures, [], 'clients see a pause, not an error');
  assert.equal(await reads[0], 'acked', 'the write acknowledged before the death reads back');
  for (let n = 0; n < 20; n++) assert.equal(await client.getString(`k${n}`), `v${n}`, `k${n} was written through the new primary`);
  assert.ok(Math.min(...settledAtMs) - startedAtMs >= 600, 'the answers came after the failover');
  assert.ok((gateway.metrics.upstreamErrors.get('LOST_HELD') ?? 0) >= 21, 'each held request is counted once');
  // Held for over 600 ms, the requests were let go every 250 ms to try the dead primary again and
  // held once more each time; /metrics still counts 21 requests held.
  const text = await (await fetch(`http://${gateway.options.host}:${gateway.port}/metrics`)).text();
  const bufferEvents = (event: string): number => Number(new RegExp(`^foreshard_gateway_buffer_events_total\\{event="${event}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  assert.equal(bufferEvents('held'), 21, 'each held request is counted once as held');
  assert.ok(bufferEvents('rechecked') >= 21 && bufferEvents('reheld') >= 1, `rechecks hold requests again: rechecked ${bufferEvents('rechecked')}, reheld ${bufferEvents('reheld')}`);
  assert.equal(bufferEvents('released'), 21, 'the failover releases each request once');
});

test('without a failover, a request to an unreachable primary gets UNAVAILABLE after maxPauseMs, not at once', { timeout: 20_000 }, async () => {
  // b is now the primary; c follows it. Kill b and publish nothing.
  await agent('b').host.close();
  const startedAtMs = performance.now();
  const error = await client.put('orphan', 'x').then(() => undefined, (reason: unknown) => reason);
  const waitedMs = performance.now() - startedAtMs;
  assert.ok(error instanceof ForeshardError && error.code === 'UNAVAILABLE', `UNAVAILABLE, got ${String(error)}`);
  assert.ok(waitedMs >= 4_500 && waitedMs < 10_000, `held about maxPauseMs (5 s) first: ${waitedMs.toFixed(0)} ms`);
});
