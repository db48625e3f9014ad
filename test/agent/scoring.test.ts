// What a score's explanation says about its forecast (src/agent/scoring.ts, DESIGN.md §5.2): the
// forecast of a series is at the score's horizon (`horizonS`), except when a regime change drove
// it, whose forecast reaches only as far as the change it has seen; the entry then says how far
// (`forecastS`), so the dashboard and an incident do not show a 20 s forecast as a 60 s one. Runs
// the real Scorer, with the shipped generic-x86-server profile and the WebAssembly kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scorer } from '../../src/agent/scoring.js';
import { loadProfile } from '../../src/profiles/index.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/index.js';

function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 16807) % 2147483647) / 2147483647;
}

test('an explanation says how far ahead its forecast is when a regime change, not the horizon, drove it', async () => {
  const { profile } = await loadProfile('generic-x86-server');
  const scorer = new Scorer(profile);
  const random = seeded(7);
  let ts = 0;
  const driverOf = (value: number) => {
    scorer.observe({ store_fsync_ms_p99: value }, []);
    ts += profile.sampling.sampleIntervalMs;
    // Through the wire schema both ways, as the agent publishes it and the coordinator reads it.
    const score = decodeMessage('score', encodeMessage('score', scorer.score(ts, [])));
    return { horizonS: score.horizonS, entry: score.node.top.find((entry) => entry.series === 'store_fsync_ms_p99') };
  };

  // Steady around 2 ms: forecasts are at the horizon, and say nothing more.
  for (let t = 0; t < 200; t++) {
    const { entry } = driverOf(2 + 0.2 * random());
    if (entry !== undefined) assert.equal(entry.forecastS, undefined, `a steady series is forecast at the horizon (t=${t})`);
  }
  // A ramp toward the 20 ms SLO: the regime-change forecast takes over and is labelled.
  const labelled: number[] = [];
  for (let t = 0; t < 30; t++) {
    const { horizonS, entry } = driverOf(2 + 0.6 * t + 0.2 * random());
    if (entry?.forecastS !== undefined) {
      assert.ok(entry.forecastS > 0 && entry.forecastS < horizonS, `forecastS ${entry.forecastS} is short of the ${horizonS} s horizon`);
      labelled.push(entry.forecastS);
    }
  }
  assert.ok(labelled.length > 0, 'the ramp was forecast by the regime-change path at least once');
  // generic-x86-server samples every second; the regime-change forecast reaches 20 samples.
  assert.ok(labelled.every((s) => s === 20), `forecastS is 20 samples of 1 s: ${labelled.join(' ')}`);
});
