// Proves the failure history turns labelled incidents into (features, outcome) pairs, keeps one per
// incident, survives a save and load, summarises itself for /metrics, and refuses a corrupt file
// with a typed error. Incidents come from simulated runs: a switch whose node stayed up (outcome 0)
// and a failover (outcome 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailureHistory, pairFromIncident } from '../../src/coordinator/failure-history.js';
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
