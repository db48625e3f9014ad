// Proves the failure history turns labelled incidents into (features, outcome) pairs, keeps one per
// incident, survives a save and load, summarises itself for /metrics, and refuses a corrupt file
// with a typed error. Incidents come from simulated runs: a switch whose node stayed up (outcome 0)
// and a failover (outcome 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailureHistory, fitFromHistory, pairFromIncident, type HistoryPair } from '../../src/coordinator/failure-history.js';
import type { ScoreFeatures } from '../../src/coordinator/types.js';
import { applyCalibration, defaultShardCalibration } from '../../src/predict/calibration.js';
import { SimWorld } from './sim/world.js';

function labelledPairs() {
  const world = new SimWorld({
    seed: 13, nodes: 4, shards: 4, shadowsPerShard: 1,
    scoreOf: (node, now) => (node === 'n0000' && now > 5_000 && now < 15_000 ? 0.9 : node === 'n0002' && now > 20_000 ? 0.7 : 0.05),
    coordinator: { rebalance: false, preReplicate: false, outcomeHorizonMs: 10_000 },
  });
  world.runUntil(24_000);
  world.config.restartAfterMs = 100_000;
  world.crashNode('n0002');
  world.runUntil(60_000);
  return [...world.incidents.values()].map(pairFromIncident).filter((p) => p !== null);
}

test('labelled incidents become pairs: a calm switch is 0, a failover is 1', () => {
  const pairs = labelledPairs();
  assert.ok(pairs.some((p) => p.outcome === 0), 'the switched-away node stayed up');
  assert.ok(pairs.some((p) => p.outcome === 1), 'the crash gave a failure');
  for (const pair of pairs) assert.ok(pair.features.shardP >= 0 && pair.features.shardP <= 1 && pair.features.topSeries === 'disk.awaitMs');
});

test('the history keeps one pair per incident, saves, loads, summarises, and refuses a corrupt file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'foreshard-history-'));
  try {
    const pairs = labelledPairs();
    const history = new FailureHistory();
    for (const pair of pairs) assert.equal(history.add(pair), true);
    assert.equal(history.add(pairs[0]!), false, 'a republished incident is not counted twice');
    const path = join(dir, 'history.jsonl');
    await history.save(path);
    const loaded = await FailureHistory.load(path);
    assert.deepEqual(loaded.pairs(), history.pairs());
    const summary = loaded.summary();
    assert.equal(summary.pairs, pairs.length);
    assert.equal(summary.failures, pairs.filter((p) => p.outcome === 1).length);
    assert.ok(summary.brierScore >= 0 && summary.brierScore <= 1);
    assert.equal(loaded.calibrationPoints().length, pairs.length);
    assert.equal((await FailureHistory.load(join(dir, 'missing.jsonl'))).pairs().length, 0, 'no file yet is an empty history');
    await writeFile(path, '{"incidentId":"x"}\n');
    await assert.rejects(FailureHistory.load(path), { code: 'BAD_HISTORY_FILE' });
    const capped = new FailureHistory(2);
    for (const pair of pairs) capped.add(pair);
    assert.ok(capped.pairs().length <= 2, 'the history has a limit');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pairs carry the features of the last scores and a breach label for the shard calibration', () => {
  const pairs = labelledPairs();
  for (const pair of pairs) {
    assert.ok(pair.features.shard, 'the shard features of the last score before the incident');
    assert.equal(typeof pair.features.shard.breach, 'number');
    assert.ok(pair.breached === 0 || pair.breached === 1);
    if (pair.outcome === 1) assert.equal(pair.breached, 1, 'a failure is a breach');
  }
});

test('a fit on the history corrects the prior where it was wrong, and waits for enough pairs', () => {
  const pair = (index: number, shard: ScoreFeatures, breached: 0 | 1): HistoryPair => ({
    incidentId: `inc-${index}`, tsMs: index * 60_000, outcome: 0, breached,
    features: { shardP: 0.9, nodeP: 0.3, meanShardP: 0.5, topSeries: 'store_fsync_ms_p99', topShare: 1, shard, node: { breach: shard.breach, anomaly: shard.anomaly } },
  });
  // Switches driven by anomaly and node risk alone, none followed by a breach; and switches driven
  // by a forecast breach, each followed by one.
  const quiet = { breach: 0, anomaly: 1, node: 1 };
  const forecast = { breach: 0.95, anomaly: 1, node: 1 };
  assert.equal(fitFromHistory([0, 1, 2, 3].map((i) => pair(i, quiet, 0))), null, 'four pairs are not enough');
  const history = [...Array.from({ length: 20 }, (_, i) => pair(i, quiet, 0)), ...Array.from({ length: 10 }, (_, i) => pair(100 + i, forecast, 1))];
  const fitted = fitFromHistory(history)!;
  assert.equal(fitted.pairs, 30);
  const before = applyCalibration(defaultShardCalibration, quiet);
  const after = applyCalibration(fitted.shard, quiet);
  assert.ok(before > 0.8, `the prior scores anomaly plus node risk at ${before.toFixed(2)}, over the switch threshold`);
  assert.ok(after < 0.5, `after the fit it scores ${after.toFixed(2)}`);
  assert.ok(applyCalibration(fitted.shard, forecast) > 0.8, 'a forecast breach still scores high');
});

test('the shards of one node event count once, and a history of failures alone keeps the priors', () => {
  // What a hung agent with six primaries left in a real `up` cluster: six failover pairs with the
  // same features at the same moment. Fitted as six independent failures, the shard bias went from
  // -4 to -0.57, and healthy shards then scored over 0.8 on a modest anomaly alone and switched.
  const quiet = { breach: 0, anomaly: 0.03, node: 0.06 };
  const failover = (index: number, tsMs: number, node = 'node-1'): HistoryPair => ({
    incidentId: `inc-f${index}`, tsMs, node, outcome: 1, breached: 1,
    features: { shardP: 0.02, nodeP: 0.06, meanShardP: 0.02, topSeries: 'store_error_rate', topShare: 0.2, shard: quiet, node: { breach: 0, anomaly: 0.4 } },
  });
  const sixShards = [0, 1, 2, 3, 4, 5].map((i) => failover(i, 1_000_000 + i));
  assert.equal(fitFromHistory(sixShards), null, 'one event, and only failures: the priors stay');
  const failuresOnly = [...sixShards, ...[1, 2, 3, 4, 5].map((k) => failover(10 + k, 1_000_000 + k * 600_000, `node-${k}`))];
  assert.equal(fitFromHistory(failuresOnly), null, 'six events, all failures: still nothing to tell scores apart by');
  const calm = (index: number): HistoryPair => ({
    incidentId: `inc-c${index}`, tsMs: 50_000_000 + index * 600_000, node: `node-${index % 3}`, outcome: 0, breached: 0,
    features: { shardP: 0.9, nodeP: 0.3, meanShardP: 0.5, topSeries: 'store_latency_ms_p99', topShare: 1, shard: { breach: 0.4, anomaly: 1, node: 0.3 }, node: { breach: 0.4, anomaly: 1 } },
  });
  const calmSwitches = [0, 1, 2, 3, 4].map(calm);
  const withSix = fitFromHistory([...calmSwitches, ...sixShards])!;
  const withOne = fitFromHistory([...calmSwitches, sixShards[0]!])!;
  assert.ok(withSix, 'failures and quiet switches: a fit');
  assert.ok(Math.abs(withSix.shard.bias - withOne.shard.bias) < 1e-6, `six shards of one event weigh as one (${withSix.shard.bias} vs ${withOne.shard.bias})`);
  assert.ok(applyCalibration(withSix.shard, { breach: 0, anomaly: 1, node: 0.06 }) < 0.8, 'a healthy shard with an anomaly alone stays under the switch threshold');
  // The same six failovers 1 ms apart across a multiple of 10 s of the clock: still one event.
  const straddling = [0, 1, 2, 3, 4, 5].map((i) => failover(20 + i, 1_009_997 + i));
  const straddlingFit = fitFromHistory([...calmSwitches, ...straddling])!;
  assert.ok(Math.abs(straddlingFit.shard.bias - withOne.shard.bias) < 1e-6, `an event is not cut at a clock window's edge (${straddlingFit.shard.bias} vs ${withOne.shard.bias})`);
  // A node that fails now and then, 9 s apart each time, is not one long event.
  const recurring = [0, 1, 2, 3, 4, 5].map((i) => failover(30 + i, 2_000_000 + i * 9_000));
  const recurringFit = fitFromHistory([...calmSwitches, ...recurring])!;
  assert.ok(Math.abs(recurringFit.shard.bias - withOne.shard.bias) > 1e-3, 'six failures 9 s apart weigh more than one');
});

test('the core sends the fitted calibration to every online node, and to a node when it comes back', () => {
  const sent: string[] = [];
  const world = new SimWorld({
    seed: 5, nodes: 3, shards: 3, shadowsPerShard: 1,
    coordinator: { rebalance: false, preReplicate: false },
    trace: (line) => { if (line.includes('"type":"calibrate"')) sent.push(line.split(' ')[2]!); },
  });
  world.runUntil(5_000);
  const calibration = { node: { bias: -5, weights: { breach: 6, anomaly: 1 } }, shard: { bias: -6, weights: { breach: 7, anomaly: 1, node: 2 } }, pairs: 7 };
  world.deliverToCoordinator({ kind: 'calibration', calibration });
  world.runUntil(6_000);
  assert.deepEqual([...sent].sort(), ['n0000', 'n0001', 'n0002']);
  sent.length = 0;
  world.config.restartAfterMs = 2_000;
  world.crashNode('n0001');
  world.runUntil(20_000);
  assert.deepEqual(sent, ['n0001'], 'the restarted node gets the calibration with its birth');
  assert.ok(world.core.stats.calibrationsApplied >= 4);
});
