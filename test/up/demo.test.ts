// Proves the `up --demo` workload (src/up/demo.ts) against a real gateway and agent: it runs
// operations with no errors and no stale reads, and stopping it (Ctrl-C on `up`) is quiet: requests
// cut off by the stop are neither counted as errors nor logged as failures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/common/log.js';
import type { Gateway } from '../../src/gateway/index.js';
import { startDemoWorkload } from '../../src/up/demo.js';
import { startTestCluster, type TestCluster } from '../gateway/cluster.js';
import { route } from '../gateway/helpers.js';

let cluster: TestCluster;
let gateway: Gateway;

before(async () => {
  cluster = await startTestCluster(['a'], { a: [0, 1] });
  const urls = { a: cluster.agents[0]!.url };
  await cluster.publish(2, [route(0, 1, 'a', urls), route(1, 1, 'a', urls)]);
  gateway = await cluster.startGateway();
});

after(async () => {
  await cluster?.close();
});

test('the demo workload runs without errors, and its stop is quiet', async () => {
  const warnings: string[] = [];
  const silent = createLogger('demo-test', () => undefined);
  const logger = { ...silent, warn: (message: string) => void warnings.push(message), child: () => logger };
  const demo = await startDemoWorkload({ gatewayUrl: gateway.url, opsPerSecond: 400, keyCount: 50, reportEveryMs: 60_000 }, logger);
  const deadline = Date.now() + 10_000;
  while (demo.stats.ops < 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(demo.stats.ops >= 200, `the demo ran (${demo.stats.ops} ops)`);
  await demo.stop();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual([demo.stats.errors, demo.stats.staleReads], [0, 0]);
  assert.deepEqual(warnings, [], 'nothing logged as failed, before or at the stop');
});
