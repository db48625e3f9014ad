// Proves the faults act inside the real paths, in-process and fast: a primary ShardHost wired to a
// ChaosController takes at least the injected fsync delay to acknowledge a write and records that
// fsync duration in the store metrics (store_fsync_ms_p99 and store_latency_ms_p99 rise), its data
// port fails requests with an I/O error the gateway reads as INTERNAL while error-rate is 1 (and
// the failed write is not applied), and `clear` restores both. The CPU burner's threads really use
// CPU (the process's CPU time grows while the main thread sleeps) and are gone after `stop`. Time
// bounds here are lower bounds the injected delay causes, never performance targets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChaosController, parseAgentFault, WorkerCpuBurner } from '../../src/chaos/index.js';
import { StoreMetricsRecorder } from '../../src/metrics/store-metrics.js';
import type { DataPortClient } from '../../src/replication/index.js';
import { connectClient, startHost, utf8, type TestHost } from '../replication/helpers.js';

const chaos = new ChaosController();
const metrics = new StoreMetricsRecorder();
let primary: TestHost;
let shadow: TestHost;
let client: DataPortClient;

before(async () => {
  primary = await startHost('p1', { chaos, metrics, minShadowAcks: 1 });
  shadow = await startHost('s1', { minShadowAcks: 1 });
  await primary.host.openShard(1, 'primary', 1);
  await shadow.host.followAt(1, 1, { node: 'p1', dataUrl: primary.host.dataUrl });
  client = await connectClient(primary.host);
});

after(async () => {
  await chaos.close();
  client?.close();
  await shadow?.stop();
  await primary?.stop();
});

async function timedPut(key: string): Promise<{ ok: boolean; code?: string; message?: string; ms: number }> {
  const startedMs = performance.now();
  const response = await client.request({ op: 'put', shard: 1, epoch: 1, key: utf8(key), value: utf8('v') });
  const ms = performance.now() - startedMs;
  return response.ok ? { ok: true, ms } : { ok: false, code: response.error.code, message: response.error.message, ms };
}

test('disk-latency delays the acknowledgement and the recorded fsync by at least the injected latency', async () => {
  assert.equal((await timedPut('warm')).ok, true);
  metrics.takeInterval(Date.now());
  await chaos.apply(parseAgentFault({ fault: 'disk-latency', ramp: { fromMs: 120, toMs: 120, overMs: 0 } }));
  const slow = await timedPut('slow');
  assert.equal(slow.ok, true);
  // setTimeout may fire up to a millisecond early; the bound is the injected delay, not a target.
  assert.ok(slow.ms >= 115, `the write was acknowledged after ${slow.ms} ms, under the injected 120 ms`);
  const series = metrics.takeInterval(Date.now());
  assert.ok((series.store_fsync_ms_p99 ?? 0) >= 115, `store_fsync_ms_p99 is ${series.store_fsync_ms_p99}`);
  assert.ok((series.store_latency_ms_p99 ?? 0) >= 115, `store_latency_ms_p99 is ${series.store_latency_ms_p99}`);
  assert.ok(chaos.state().delayedFsyncs >= 1);
  await chaos.clear();
  assert.equal((await timedPut('after')).ok, true);
});

test('error-rate 1 fails every request with an I/O error and applies no write; clear restores them', async () => {
  metrics.takeInterval(Date.now());
  await chaos.apply(parseAgentFault({ fault: 'error-rate', probability: 1 }));
  const failed = await timedPut('lost');
  assert.equal(failed.ok, false);
  assert.equal(failed.code, 'INTERNAL');
  assert.match(failed.message ?? '', /I\/O error \(EIO\).*injected by foreshard chaos error-rate/);
  assert.equal(metrics.takeInterval(Date.now()).store_error_rate, 1);
  await chaos.clear();
  assert.equal((await timedPut('back')).ok, true);
  const read = await client.request({ op: 'get', shard: 1, epoch: 1, key: utf8('lost') });
  assert.ok(read.ok && read.value === null, 'the failed write was never applied');
});

test('cpu-burn threads really use CPU, and stop when told', async () => {
  const burner = new WorkerCpuBurner();
  const cpuMs = (): number => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  try {
    const beforeMs = cpuMs();
    await burner.start(1, 20_000);
    assert.equal(burner.running, 1);
    // The main thread only sleeps here, so CPU time beyond a little can only be the worker's.
    const deadline = Date.now() + 15_000;
    while (cpuMs() - beforeMs < 300) {
      assert.ok(Date.now() < deadline, 'the burn thread used under 300 ms of CPU in 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await burner.stop();
  }
  assert.equal(burner.running, 0);
});
