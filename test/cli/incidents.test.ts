// `foreshard incidents` (src/cli/commands/incidents.ts): one line per stored incident, ending with
// its top driver, so an operator sees why a shard was switched without --json. The incident is one
// a live `up --demo` cluster wrote (2026-11-21), trimmed to its first steps and driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/foreshard.js', import.meta.url));
const incident = {"id":"inc-g1-101","kind":"planned-switch","shard":5,"reason":"rebalance primaries onto node-2","openedAtMs":1795240930772,"closedAtMs":1795240930963,"fromNode":"node-3","toNode":"node-2","epochBefore":1,"epochAfter":2,"timeline":{"scores":[{"ts":1795240929852,"p":0.03643564113342315,"nodeP":0.036519810290938405}],"steps":[{"atMs":1795240930772,"step":"opened","detail":"rebalance primaries onto node-2"},{"atMs":1795240930772,"step":"writes-paused"}],"droppedSteps":0},"drivers":[{"series":"store_latency_ms_p99","value":24.998727999991388,"forecast":20.907832999990205,"lower":2.348866000000271,"upper":39.46679999998014,"forecastS":20,"threshold":50,"direction":"above","breachProbability":0.007475150300738004,"anomalyLikelihood":0.9874587575958886,"share":0.5127450248893032,"forecastBreaches":false}],"nodeDrivers":[],"features":{"shard":{"breach":0.007475150300737976,"anomaly":0.19016594411562265,"node":0.036519810290938405},"node":{"breach":0.007475150300737976,"anomaly":0.22748401078742783}},"outcome":{"result":"switched","detail":"node-2 is primary at epoch 2","nodeFailedWithinHorizon":false,"breachedWithinHorizon":true}};

test('each incident line names its top driver: value, forecast, how far ahead and the SLO', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'foreshard-incidents-'));
  try {
    mkdirSync(join(dataDir, 'incidents'));
    writeFileSync(join(dataDir, 'incidents', `${incident.id}.json`), JSON.stringify(incident));
    const result = spawnSync(process.execPath, [bin, 'incidents', '--data-dir', dataDir], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /inc-g1-101 {2}planned-switch {2}shard 5 {2}node-3 -> node-2 {2}epoch 1 -> 2 {2}switched {2}191 ms {2}rebalance primaries onto node-2/);
    assert.match(lines[0]!, /driver store_latency_ms_p99 25\.0 → 20\.9 in 20 s \(SLO ≤ 50\.0\)$/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
