// Proves the NAB scorer follows the published rules (probation, scaled sigmoid, earliest detection
// per window, FP weighting after a window, threshold sweep, normalisation) on hand-made files whose
// scores were worked out by hand from the formulas in ../shared/data/nab/README.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtInProfiles, probationRows, resultAt, scaledSigmoid, scoreFile, sweepThreshold, WindowMatcher, type NabFile } from '../../src/predict/nab.js';

const standard = builtInProfiles.standard!;
const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} != ${expected}`);

/** 20 rows (probation floor(0.15·20) = 3), one window over rows 10..13 (width 4). */
function file(detections: Record<number, number>): NabFile {
  const scores = new Float64Array(20);
  for (const [row, score] of Object.entries(detections)) scores[Number(row)] = score;
  return { name: 'hand.csv', scores, windows: [[10, 13]] };
}

test('probation and scaled sigmoid match the README', () => {
  assert.equal(probationRows(20), 3);
  assert.equal(probationRows(4032), 604);
  assert.equal(probationRows(10_000), 750);
  close(scaledSigmoid(0), 0, 'σ(0)');
  close(scaledSigmoid(-1), 0.9866142981514305, 'σ(−1) = 2/(1+e^−5) − 1');
  assert.equal(scaledSigmoid(3.0001), -1);
});

test('the earliest detection in a window is worth tpWeight at the window start and less later', () => {
  close(scoreFile(file({ 10: 1 }), 0.5, standard).score, 1, 'detection at the first row');
  // σ(−1/4)/σ(−1) = 0.554600/0.986614
  close(scoreFile(file({ 13: 1 }), 0.5, standard).score, 0.5621241486044827, 'detection at the last row');
  // Only the earliest counts: row 12 (σ(−2/4)/σ(−1)) and row 13 together score as row 12 alone.
  const both = scoreFile(file({ 12: 1, 13: 1 }), 0.5, standard);
  close(both.score, 0.8597925669097837, 'two detections in one window');
  assert.equal(both.truePositives, 1);
  assert.equal(both.falsePositives, 0);
});

test('a missed window costs fnWeight; false positives cost by position', () => {
  const missed = scoreFile(file({}), 0.5, standard);
  close(missed.score, -1, 'missed window');
  assert.equal(missed.falseNegatives, 1);
  // Before any window: −fpWeight. In probation (row 1): nothing.
  close(scoreFile(file({ 1: 1, 5: 1, 10: 1 }), 0.5, standard).score, 1 - 0.11, 'FP before the window');
  // Three rows after a window of width 4: 0.11·σ(3/3) = −0.108528.
  close(scoreFile(file({ 10: 1, 16: 1 }), 0.5, standard).score, 1 - 0.10852757279665734, 'FP after the window');
  assert.equal(scoreFile(file({ 1: 1, 5: 1, 10: 1, 16: 1 }), 0.5, standard).falsePositives, 2);
});

test('the sweep keeps the best threshold and normalises against null and perfect', () => {
  const scores = { 5: 0.5, 10: 0.9, 16: 0.95 };
  // θ=0.95: {16} → −1.1085; θ=0.9: {10,16} → 0.8915; θ=0.5: adds row 5 → 0.7815; θ=0 → every row.
  const result = sweepThreshold([file(scores)], standard);
  assert.equal(result.threshold, 0.9);
  close(result.rawScore, 1 - 0.10852757279665734, 'best raw score');
  assert.equal(result.perfectScore, 1);
  assert.equal(result.nullScore, -1);
  close(result.normalizedScore, (100 * (result.rawScore + 1)) / 2, 'normalised score');
  // The sweep agrees with scoring every candidate directly.
  for (const theta of [0, 0.5, 0.9, 0.95]) {
    assert.ok(resultAt([file(scores)], theta, standard).rawScore <= result.rawScore + 1e-12, `θ=${theta} beats the sweep`);
  }
});

test('profiles change the weights: low-FN doubles the miss cost, low-FP doubles false positives', () => {
  close(scoreFile(file({}), 0.5, builtInProfiles.reward_low_FN_rate!).score, -2, 'missed window, low FN');
  close(scoreFile(file({ 5: 1, 10: 1 }), 0.5, builtInProfiles.reward_low_FP_rate!).score, 1 - 0.22, 'FP, low FP');
});

test('window timestamps map to rows, dropping the fraction and taking repeats widely', () => {
  const matcher = new WindowMatcher([['2014-01-01 00:05:00.000000', '2014-01-01 00:10:00.000000']]);
  ['2014-01-01 00:00:00', '2014-01-01 00:05:00', '2014-01-01 00:05:00', '2014-01-01 00:10:00', '2014-01-01 00:10:00', '2014-01-01 00:15:00'].forEach((stamp, row) =>
    matcher.see(stamp, row),
  );
  assert.deepEqual(matcher.result(), { windows: [[1, 4]] });
  const missing = new WindowMatcher([['2015-01-01 00:00:00', '2015-01-02 00:00:00']]);
  missing.see('2014-01-01 00:00:00', 0);
  assert.equal(missing.result().missing, '2015-01-01 00:00:00');
});
