// The shared body of the crash and hang scenarios (crash.test.ts, hang.test.ts): three real agents,
// a coordinator and a gateway; a client workload of 400 ops/s; the agent holding the most primaries
// gets SIGKILL (crash) or SIGSTOP (hang). It measures the failover time (the signal to the routing
// table that points every shard of that node at a new primary, open for writes, as the test's MQTT
// watcher receives it) and the time until writes resume on every affected shard (the signal to the
// acknowledgement of the first write sent after it, per shard, the slowest shard counted), and it
// asserts the issue's bounds: writes resume within 3 s of the signal, and every acknowledged write
// reads back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ForeshardClient } from '../../src/client/index.js';
import { E2eCluster, mostPrimaries, waitFor } from './helpers.js';
import { pauseSummary, readBack, startWorkload, type Workload } from './workload.js';

const shardCount = 8;
/**
 * `E2E_DEFAULT_TIMEOUTS=1` runs the agents at their default MQTT keep-alive and the coordinator at its
 * default heartbeat timeout, instead of the tuned 1 s and 1.5 s (docs/e2e.md, "With every default").
 * Not part of `npm test`; the bound on resuming is then the gateway's request timeout (5 s): the
 * point of that run is that clients still see no error.
 */
const defaultTimeouts = process.env.E2E_DEFAULT_TIMEOUTS === '1';
/** The issue's bound: writes resume within 3 s of the kill. */
const resumeBoundMs = defaultTimeouts ? 5_000 : 3_000;

/** Registers the scenario `kind` on `broker` as a describe block. */
export function nodeFailureScenario(kind: 'crash' | 'hang', broker: 'embedded' | 'mosquitto', skip: string | false): void {
  const brokerName = broker === 'embedded' ? 'aedes' : 'mosquitto';
  describe(`${kind} of the busiest primary's agent on ${brokerName}`, { skip }, () => {
    const cluster = new E2eCluster({ label: `${kind}-${brokerName}`, broker });
    let client: ForeshardClient | undefined;
    let workload: Workload | undefined;

    before(async () => {
      await cluster.startBroker();
      // A hung agent keeps its TCP connection open, so the broker notices it only after 1.5 x its MQTT
      // keep-alive (1 s here), and some brokers later still (Mosquitto 2.0 took ~5 s); the coordinator
      // notices the silence itself after --heartbeat-timeout-ms, 1.5 s here for agents that publish
      // every second (docs/e2e.md, "Tuning"). The crash scenario runs the same cluster.
      const agentFlags = defaultTimeouts ? ['--no-prediction'] : ['--no-prediction', '--mqtt-keepalive', '1'];
      const gatewayUrl = await cluster.startCluster(shardCount, agentFlags, defaultTimeouts ? ['--no-rebalance'] : ['--no-rebalance', '--heartbeat-timeout-ms', '1500']);
      client = await connect(gatewayUrl, { requestTimeoutMs: 20_000 });
    });

    after(async () => {
      await workload?.stop();
      await client?.close().catch(() => undefined);
      await cluster.stop();
    });

    test(`after ${kind === 'crash' ? 'kill -9' : 'SIGSTOP'} writes resume within 3 s and no acknowledged write is lost`, async () => {
      const load = startWorkload(client!, { opsPerSecond: 400, prefix: kind, shardCount });
      workload = load;
      await waitFor('writes under way', () => load.acknowledged.size > 600, 20_000);
      const [victim, victimShards] = mostPrimaries(cluster.latestRouting()!);
      const affected = new Set(victimShards);
      const tablesBefore = cluster.routing.length;

      const signalAtMs = Date.now();
      cluster.parts.get(victim)!.child.kill(kind === 'crash' ? 'SIGKILL' : 'SIGSTOP');
      const index = await waitFor(`every shard of ${victim} to be open at a new primary`, () => {
        for (let i = tablesBefore; i < cluster.routing.length; i++) {
          const table = cluster.routing[i]!;
          const done = [...affected].every((shard) => {
            const route = table.shards.find((r) => r.id === shard);
            return route && route.primary !== null && route.primary !== victim && route.writes === 'open';
          });
          if (done) return i + 1;
        }
        return undefined;
      }, 30_000, () => cluster.logs());
      const routedAtMs = cluster.routingSeenAtMs[index - 1]!;
      // Keep the load on for a while, so the new primaries take writes at the full rate.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await load.stop();

      const failoverMs = routedAtMs - signalAtMs;
      const resumedMs = [...affected].map((shard) => {
        const firstAck = load.records
          .filter((r) => r.op === 'put' && r.ok && r.shard === shard && r.startedAtMs >= signalAtMs)
          .map((r) => r.startedAtMs + r.latencyMs)
          .sort((a, b) => a - b)[0];
        return firstAck === undefined ? Number.POSITIVE_INFINITY : firstAck - signalAtMs;
      });
      const resumeMs = Math.max(...resumedMs);
      const pause = pauseSummary(load, signalAtMs, routedAtMs, affected);
      const codes = new Map<string, number>();
      for (const r of load.records) if (!r.ok) codes.set(r.code!, (codes.get(r.code!) ?? 0) + 1);
      const after = cluster.latestRouting()!;
      console.log(`${kind} on ${brokerName}: ${victim} held shards ${[...affected].join(',')} (${affected.size} of ${shardCount}); ` +
        `failover ${failoverMs} ms (signal to routing open); writes resumed on every affected shard ${resumeMs.toFixed(0)} ms after the signal ` +
        `(per shard: ${resumedMs.map((ms) => ms.toFixed(0)).join(', ')}); requests started during the failover on those shards: ${pause.text}; ` +
        `${load.records.length} requests, errors ${JSON.stringify(Object.fromEntries(codes))}; new primaries ${[...affected].map((s) => `${s}:${after.shards.find((r) => r.id === s)!.primary}`).join(' ')}`);

      assert.ok(resumeMs <= resumeBoundMs, `writes resumed on every shard of ${victim} within ${resumeBoundMs} ms of the ${kind}: took ${resumeMs.toFixed(0)} ms`);
      assert.deepEqual(load.staleReads, [], 'every read returns the last acknowledged value');
      assert.deepEqual(await readBack(client!, load), [], 'every acknowledged write reads back');
      // A hung agent's requests are sent again to the new primary once routing moves, and a dead
      // agent's wait for that move (the gateway, docs/gateway.md): clients see a pause, never an error.
      assert.deepEqual(load.failures, [], 'clients see no error');
      // Only requests that were in flight to the lost agent, or waited for it, may fail; nothing after.
      const lateFailures = load.records.filter((r) => !r.ok && r.startedAtMs > routedAtMs + 1_000);
      assert.deepEqual(lateFailures.map((r) => `${r.op} ${r.key} ${r.code}`), [], 'no request started after the failover fails');
    });
  });
}
