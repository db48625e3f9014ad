// Proves the predictive switch (issue 8, scenario 1): with real processes (three agents running the
// generic-x86-server profile, whose store p99 SLO is 50 ms, prediction on; a coordinator with its
// default thresholds; a gateway) and a 500 ops/s client workload, the disk latency of the agent that
// holds the most primaries is ramped from 1 ms to 200 ms over 60 s (POST /chaos, the route
// `foreshard chaos disk-latency --ramp 1:200/60` uses). It asserts that every shard of that agent is
// switched to a shadow (routing open at a new primary) before that agent's store p99 crosses 50 ms,
// with zero client errors, every read returning the last acknowledged value and every acknowledged
// write reading back, and that each incident names disk latency as its top driver.
//
// When the switch works, the victim's store p99 never gets to cross the SLO: the switch takes its
// client load away. So the test measures when it would have with a control in the same run: once
// the victim has switched and its fault is cleared, automation is paused (`foreshard
// pause-automation`) and the same ramp is put on the node that now holds the most primaries, under
// the same workload, until that node's published store p99 crosses 50 ms (two samples in a row). The lead time is the
// control's crossing time minus the victim's switch time, each from the start of its ramp; the test
// asserts it is positive, and that the victim's own store p99 stayed under 50 ms until its switch
// completed. It also prints when the victim's fsync p99 first passed its own 20 ms SLO, for the
// record. Agents get 35 s to warm up first. On the embedded broker, and on Mosquitto at
// 127.0.0.1:1883 when it is reachable.
//
// The profile is generic-x86-server with its *host* SLOs (CPU, CPU stall, I/O stall) raised: this
// test runs three agents, a coordinator, a gateway, a 500 ops/s client and the test runner on one
// shared 2-core machine, whose CPU is genuinely saturated at times, which the generic profile
// rightly scores as a node at risk (and a node at risk is no switch target). The scenario is about
// the disk, so the store SLOs (p99 50 ms, fsync p99 20 ms) are kept exactly as shipped. It also
// samples every 500 ms instead of 1 s: with group commit a write waits for the fsync in progress and
// then its own, so the store's p99 crosses 50 ms only 4-7 s into the ramp, and the sampling interval
// is the profile's knob for how fast a node's predictor reacts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ForeshardClient } from '../../src/client/index.js';
import { BREACH_LOOKBACK_MS as breachLookbackMs, E2eCluster, mostPrimaries, reachable, sharedHostProfile, waitFor } from './helpers.js';
import { pauseSummary, readBack, startWorkload, type Workload } from './workload.js';

const mosquittoReachable = await reachable('127.0.0.1', 1883);
if (!mosquittoReachable) console.log('predictive switch: Mosquitto is not reachable at 127.0.0.1:1883, its run is skipped');
const shardCount = 8;
const sloMs = 50;
/** The store's fsync p99 SLO in generic-x86-server, as shipped. */
const fsyncSloMs = 20;
const warmUpMs = 35_000;
/** How far before a warm-up switch a published SLO breach counts as its cause. */
const diskSeries = new Set(['store_fsync_ms_p99', 'store_latency_ms_p99', 'disk_await_ms']);

/** The ramp of the issue's scenario: every fsync delayed by 1 ms rising to 200 ms over 60 s. */
const rampFault = { fault: 'disk-latency', ramp: { fromMs: 1, toMs: 200, overMs: 60_000 } };


function scenario(brokerName: string, broker: 'embedded' | 'mosquitto', skip: string | false): void {
  describe(`predictive switch under a disk latency ramp on ${brokerName}`, { skip }, () => {
    const profile = sharedHostProfile({ sampleIntervalMs: 500 });
    const cluster = new E2eCluster({ label: `predict-${brokerName}`, broker, profile: profile.path, watchNodes: true });
    let client: ForeshardClient | undefined;
    let workload: Workload | undefined;

    before(async () => {
      await cluster.startBroker();
      const gatewayUrl = await cluster.startCluster(shardCount, ['--allow-chaos'], ['--no-rebalance']);
      client = await connect(gatewayUrl, { requestTimeoutMs: 20_000 });
    });

    /** Injects a fault on a node through its agent's HTTP API (the route `foreshard chaos` uses). */
    const chaos = async (node: string, fault: object): Promise<void> => {
      const answer = await fetch(`${String(cluster.parts.get(node)!.started.httpUrl)}/chaos`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault),
      });
      assert.equal(answer.status, 200, await answer.text());
    };

    after(async () => {
      await workload?.stop();
      await client?.close().catch(() => undefined);
      await cluster.stop();
    });

    test('every shard of the degrading primary switches before its store p99 crosses 50 ms, with no client error and no lost write', async () => {
      const load = startWorkload(client!, { opsPerSecond: 500, prefix: 'predict', shardCount });
      workload = load;
      await new Promise((resolve) => setTimeout(resolve, warmUpMs));
      const tablesBefore = cluster.routing.length;
      const [victim, victimShards] = mostPrimaries(cluster.latestRouting()!);
      const affected = new Set(victimShards);
      // During the warm-up no switch may happen without cause. This VM's disk sometimes stalls for
      // real (fsync p99 in the hundreds of ms, as soak.test.ts records), and a switch away from a
      // primary whose SLO was actually breached, with the rebalancing that follows it, is correct.
      // A breach justifies a switch when its node published it in the few seconds before the switch
      // opened (three scores over 0.8 in a row, each forecasting from the samples before it); a
      // switch with no SLO crossed in that time would be a false prediction.
      const justification = (i: (typeof cluster.incidents)[number]): string[] => cluster.slosCrossedBefore(i, profile.slo, breachLookbackMs);
      const warmUpSwitches = [...new Map(cluster.incidents.filter((i) => i.kind === 'planned-switch').map((i) => [i.id, i])).values()];
      const falseWarmUpSwitches = warmUpSwitches.filter((i) => !i.rootCause.summary.startsWith('rebalance') && justification(i).length === 0);
      for (const i of warmUpSwitches) console.log(`predictive switch on ${brokerName}: warm-up switch of shard ${i.shard} from ${i.fromNode} (${i.rootCause.summary}); SLOs crossed in the ${breachLookbackMs} ms before it: ${justification(i).join(', ') || 'none'}`);
      assert.deepEqual(falseWarmUpSwitches.map((i) => `${i.shard} ${i.fromNode}: ${i.rootCause.summary} [${i.rootCause.top.map((e) => `${e.series}=${e.value}/${e.threshold}`).join(',')}]`), [], 'no switch without a real SLO breach during the warm-up');

      const rampAtMs = Date.now();
      await chaos(victim, rampFault);
      const index = await waitFor(`every shard of ${victim} to switch`, () => {
        for (let i = tablesBefore; i < cluster.routing.length; i++) {
          const done = [...affected].every((shard) => {
            const route = cluster.routing[i]!.shards.find((r) => r.id === shard);
            return route && route.primary !== null && route.primary !== victim && route.writes === 'open';
          });
          if (done) return i + 1;
        }
        return undefined;
      }, 70_000, () => cluster.logs());
      const switchedAtMs = cluster.routingSeenAtMs[index - 1]!;
      const pausedAtMs = cluster.routingSeenAtMs.slice(tablesBefore).find((_, i) => cluster.routing[tablesBefore + i]!.shards.some((r) => affected.has(r.id) && r.writes !== 'open')) ?? switchedAtMs;
      const crossing = (node: string, fromMs: number, series: string, limitMs: number) =>
        cluster.metrics.find((m) => m.node === node && m.seenAtMs >= fromMs && (m.series[series] ?? 0) > limitMs);
      // The control's crossing is the first of two samples in a row over the SLO: a ramp crosses and
      // stays over, while this machine's disk puts a lone sample over 50 ms now and then (one run's
      // control "crossed" 67 ms into its ramp, when the injected delay was 1.2 ms). The victim is
      // held to the stricter single sample.
      const sustainedCrossing = (node: string, fromMs: number, series: string, limitMs: number) => {
        const samples = cluster.metrics.filter((m) => m.node === node && m.seenAtMs >= fromMs);
        return samples.find((m, i) => (m.series[series] ?? 0) > limitMs && (samples[i + 1]?.series[series] ?? 0) > limitMs);
      };
      // The switch takes the victim's client load away, so its store p99 cannot show when it would
      // have crossed the SLO. What it shows is whether it crossed before the switch completed.
      const victimBreach = crossing(victim, rampAtMs, 'store_latency_ms_p99', sloMs);
      const victimFsync = crossing(victim, rampAtMs, 'store_fsync_ms_p99', fsyncSloMs);
      const victimLast = cluster.metrics.filter((m) => m.node === victim && m.seenAtMs >= rampAtMs && m.seenAtMs <= pausedAtMs).at(-1);
      await chaos(victim, { fault: 'clear' });

      // The control: the same ramp on the node that now holds the most primaries, with automation
      // paused so nothing switches, under the same workload, until its store p99 crosses the SLO.
      // The lead time is the control's crossing time minus the victim's switch time, both from the
      // start of their ramps.
      const paused = await cluster.runCli(['pause-automation', ...cluster.targetFlags]);
      assert.equal(paused.code, 0, paused.stderr);
      const [control, controlShards] = mostPrimaries(cluster.latestRouting()!);
      const controlAtMs = Date.now();
      await chaos(control, rampFault);
      const controlBreach = await waitFor(`${control}'s store p99 to cross ${sloMs} ms with nothing switching`,
        () => sustainedCrossing(control, controlAtMs, 'store_latency_ms_p99', sloMs), 60_000, () => cluster.logs());
      await chaos(control, { fault: 'clear' });
      await load.stop();

      const switchMs = switchedAtMs - rampAtMs;
      const breachMs = controlBreach.seenAtMs - controlAtMs;
      // The coordinator publishes an incident when it opens and again when it closes: keep the latest of each id.
      const latestById = new Map(cluster.incidents.filter((i) => i.kind === 'planned-switch' && i.fromNode === victim && affected.has(i.shard!) && i.ts >= rampAtMs).map((i) => [i.id, i]));
      const switchIncidents = [...latestById.values()];
      const pause = pauseSummary(load, pausedAtMs, switchedAtMs, affected);
      const victimPutsBefore = load.records.filter((r) => r.op === 'put' && r.ok && affected.has(r.shard) && r.startedAtMs >= rampAtMs && r.startedAtMs < pausedAtMs).map((r) => r.latencyMs);
      console.log(`predictive switch on ${brokerName}: ${victim} held shards ${[...affected].join(',')}; its ramp started at t=0; ` +
        `first pause t=${pausedAtMs - rampAtMs} ms, every shard switched t=${switchMs} ms; ` +
        `${victim}'s last sample before the pause: store_latency_ms_p99 ${victimLast?.series.store_latency_ms_p99?.toFixed(1) ?? '-'} ms, store_fsync_ms_p99 ${victimLast?.series.store_fsync_ms_p99?.toFixed(1) ?? '-'} ms; ` +
        `store_fsync_ms_p99 > ${fsyncSloMs} first seen ${victimFsync ? `t=${victimFsync.seenAtMs - rampAtMs} ms` : 'never'}; ` +
        `control ${control} (shards ${controlShards.join(',')}, nothing switching): store_latency_ms_p99 > ${sloMs} at t=${breachMs} ms of its ramp; ` +
        `lead time ${breachMs - switchMs} ms; pause clients saw on the switched shards: ${pause.text}; ` +
        `slowest acknowledged put on them before the pause ${Math.max(0, ...victimPutsBefore).toFixed(1)} ms; ` +
        `${load.records.length} requests, ${load.failures.length} errors; drivers ${switchIncidents.map((i) => `${i.shard}:${i.rootCause.top[0]?.series}`).join(' ')}`);

      assert.equal(victimBreach === undefined || victimBreach.seenAtMs > switchedAtMs, true,
        `${victim}'s store p99 crossed ${sloMs} ms (t=${(victimBreach?.seenAtMs ?? 0) - rampAtMs} ms) before the switch completed (t=${switchMs} ms)`);
      assert.ok(switchMs < breachMs, `the switch completed (t=${switchMs} ms) before the same ramp took the control's store p99 past ${sloMs} ms (t=${breachMs} ms)`);
      assert.deepEqual(load.failures, [], 'clients see no error');
      assert.deepEqual(load.staleReads, [], 'every read returns the last acknowledged value');
      assert.deepEqual(await readBack(client!, load), [], 'every acknowledged write reads back');
      assert.deepEqual(switchIncidents.map((i) => i.shard).sort(), [...affected].sort(), `a planned-switch incident for every shard of ${victim}`);
      for (const incident of switchIncidents) {
        const top = incident.rootCause.top[0]?.series;
        assert.ok(top !== undefined && diskSeries.has(top), `incident ${incident.id} (shard ${incident.shard}) names disk latency as its top driver, not ${top}: ${incident.rootCause.summary}`);
      }
    });
  });
}

// Part of `npm test` since the seventh session, whose 12 broker runs on this shared 2-core machine
// all passed, leads 3.5-4.6 s (the last 6 after the warm-up fix: a young series is not scored,
// docs/scoring.md §1).
// Earlier sessions' failures, and what fixed each, are in docs/e2e.md. FORESHARD_E2E_PREDICTIVE=0
// skips it (a machine too slow or too busy to ramp a disk and measure a control in 70 s).
const predictiveSkip = process.env.FORESHARD_E2E_PREDICTIVE === '0' ? 'FORESHARD_E2E_PREDICTIVE=0' : false;
if (predictiveSkip) console.log(`predictive switch: skipped: ${predictiveSkip}`);
scenario('aedes', 'embedded', predictiveSkip);
scenario('mosquitto', 'mosquitto', predictiveSkip || (mosquittoReachable ? false : 'mosquitto not reachable at 127.0.0.1:1883'));
