// Proves the ARIMA kernel behaves as a forecaster user expects: it recovers known AR and MA
// coefficients from simulated series, its 90% intervals cover about 90% of outcomes, streaming
// updates land in the same state as running the model over the whole series, order selection
// picks a mean-reverting model for a stationary series, and bad input gets a typed error or a
// named fallback, never a non-finite forecast. Simulations use a seeded PRNG (seed printed on failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelError } from '../../src/kernels/errors.js';
import { ARIMA_MAX_HORIZON, ARIMA_MAX_WINDOW, arimaMinimumLength, fitArima, selectArima, wasmEngine, type ArimaModel } from '../../src/kernels/arima.js';
import { armaResiduals, difference, fitArimaWith, type ArimaEngine } from '../../src/kernels/arima-reference.js';
import { mulberry32 as prng } from '../../src/common/random.js';

const SEED = Number(process.env.FORESHARD_TEST_SEED ?? 7);


function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Simulates ARMA(ar, ma) plus `mean`, after a burn-in, then integrates it d times. */
function simulate(random: () => number, length: number, ar: number[], ma: number[], mean = 0, d = 0): Float64Array {
  const burnIn = 200;
  const total = length + burnIn;
  const noise = Array.from({ length: total }, () => gaussian(random));
  const w = new Float64Array(total);
  for (let t = 0; t < total; t++) {
    let value = noise[t]!;
    ar.forEach((a, i) => (value += t > i ? a * w[t - 1 - i]! : 0));
    ma.forEach((m, j) => (value += t > j ? m * noise[t - 1 - j]! : 0));
    w[t] = value;
  }
  let series = w.slice(burnIn).map((v) => v + mean);
  for (let pass = 0; pass < d; pass++) {
    let sum = 0;
    series = series.map((v) => (sum += v));
  }
  return series;
}

function assertKernelError(body: () => unknown, code: string): void {
  assert.throws(body, (error: unknown) => error instanceof KernelError && error.code === code, `expected KernelError ${code}`);
}

function assertFiniteForecast(model: ArimaModel, h = 12): void {
  const { mean, lower, upper } = model.forecast(h);
  for (let i = 0; i < h; i++) {
    assert.ok(Number.isFinite(mean[i]!) && Number.isFinite(lower[i]!) && Number.isFinite(upper[i]!), `non-finite forecast at step ${i + 1}`);
    assert.ok(lower[i]! <= mean[i]! && mean[i]! <= upper[i]!, `interval does not contain the mean at step ${i + 1}`);
  }
}

test('recovers known AR(2), MA(1) and ARIMA(1,1,1) coefficients', () => {
  const random = prng(SEED);
  const ar2 = fitArima(simulate(random, 3000, [0.5, -0.3], [], 10), { p: 2, d: 0, q: 0 });
  assert.ok(Math.abs(ar2.ar[0]! - 0.5) < 0.06 && Math.abs(ar2.ar[1]! + 0.3) < 0.06, `AR(2) got ${ar2.ar} (seed ${SEED})`);
  assert.ok(Math.abs(ar2.mean - 10) < 0.2, `mean got ${ar2.mean} (seed ${SEED})`);
  assert.ok(Math.abs(ar2.sigma2 - 1) < 0.1, `sigma2 got ${ar2.sigma2} (seed ${SEED})`);
  const ma1 = fitArima(simulate(random, 3000, [], [0.6]), { p: 0, d: 0, q: 1 });
  assert.ok(Math.abs(ma1.ma[0]! - 0.6) < 0.06, `MA(1) got ${ma1.ma} (seed ${SEED})`);
  // AR and MA parts of opposite sign and far apart, so the two are well identified.
  const arima = fitArima(simulate(random, 3000, [0.6], [0.3], 0, 1), { p: 1, d: 1, q: 1 });
  assert.ok(Math.abs(arima.ar[0]! - 0.6) < 0.1 && Math.abs(arima.ma[0]! - 0.3) < 0.1, `ARIMA(1,1,1) got ar ${arima.ar} ma ${arima.ma} (seed ${SEED})`);
  assert.equal(arima.fallback, null);
});

test('90% prediction intervals cover about 90% of simulated outcomes, at 1 and 10 steps', () => {
  const random = prng(SEED + 1);
  const replicates = 300;
  const covered = [0, 0];
  for (let r = 0; r < replicates; r++) {
    const series = simulate(random, 510, [0.7], [0.3], 5);
    const model = fitArima(series.subarray(0, 500), { p: 1, d: 0, q: 1 });
    const { lower, upper } = model.forecast(10, 0.9);
    [0, 9].forEach((step, k) => (covered[k]! += lower[step]! <= series[500 + step]! && series[500 + step]! <= upper[step]! ? 1 : 0));
  }
  for (const [k, count] of covered.entries()) {
    const rate = count / replicates;
    // With 300 replicates the standard error of a 90% rate is 1.7%; allow about three of them.
    assert.ok(rate > 0.84 && rate < 0.96, `coverage at ${k === 0 ? 1 : 10} steps is ${rate} (seed ${SEED})`);
  }
});

test('random-walk intervals widen like the square root of the horizon', () => {
  const random = prng(SEED + 2);
  const model = fitArima(simulate(random, 800, [], [], 0, 1), { p: 0, d: 1, q: 0 });
  const { mean, lower, upper } = model.forecast(16);
  assert.ok(mean.every((v) => v === mean[0]), 'a random walk forecasts its last value');
  const width1 = upper[0]! - lower[0]!;
  const width16 = upper[15]! - lower[15]!;
  assert.ok(Math.abs(width16 / width1 - 4) < 1e-9, `width ratio ${width16 / width1}`);
});

test('update() lands in the same state as running the model over the whole series', () => {
  const random = prng(SEED + 3);
  for (const order of [{ p: 2, d: 0, q: 1 }, { p: 2, d: 1, q: 1 }, { p: 1, d: 2, q: 2 }, { p: 5, d: 0, q: 5 }]) {
    const series = simulate(random, 600, [0.4, 0.2], [0.3], 3, order.d);
    const model = fitArima(series.subarray(0, 400), order);
    const batch = fitArima(series.subarray(0, 400), order);
    for (let t = 400; t < 600; t++) model.update(series[t]!);
    const residuals = new Float64Array(200);
    batch.updateMany(series.subarray(400), residuals);
    // The same coefficients run over all 600 points give the residuals the updates must reproduce.
    const w = difference(series, order.d);
    const expected = new Float64Array(w.length);
    armaResiduals(w, model.mean, model.ar, model.ma, expected);
    const tolerance = 1e-9 * Math.max(1, ...series.map(Math.abs));
    assert.ok(Math.abs(model.lastResidual - expected[w.length - 1]!) < tolerance, `lastResidual for ${JSON.stringify(order)}`);
    for (let i = 0; i < 200; i++) assert.ok(Math.abs(residuals[i]! - expected[w.length - 200 + i]!) < tolerance, `updateMany residual ${i}`);
    assert.equal(model.observations, 600);
    assert.equal(batch.predictNext(), model.predictNext(), 'updateMany and update agree');
    // One-step forecast equals forecast(1).
    assert.ok(Math.abs(model.forecast(1).mean[0]! - model.predictNext()) < tolerance);
  }
});

test('selectArima picks a mean-reverting model for a stationary series, and one that does not revert for a random walk', () => {
  const random = prng(SEED + 4);
  const stationary = selectArima(simulate(random, 500, [0.5], [], 20));
  assert.equal(stationary.order.d, 0, `stationary series got ${JSON.stringify(stationary.order)} (seed ${SEED})`);
  const walkSeries = simulate(random, 500, [], [], 0, 1);
  const walk = selectArima(walkSeries);
  // AIC may pick ARIMA(p,1,q) or a near-unit-root AR(2) (CSS biases a unit root slightly down, as
  // Dickey and Fuller showed); either way the forecast must stay nearer the last value than the window mean.
  const last = walkSeries[499]!;
  const windowMean = walkSeries.reduce((sum, v) => sum + v, 0) / walkSeries.length;
  const farEnd = walk.forecast(12).mean[11]!;
  assert.ok(Math.abs(farEnd - last) < 0.5 * Math.abs(windowMean - last), `random walk got ${JSON.stringify(walk.order)} forecasting ${farEnd}, last ${last}, mean ${windowMean} (seed ${SEED})`);
  assertFiniteForecast(stationary);
  assertFiniteForecast(walk);
  assertKernelError(() => selectArima(new Float64Array(100), []), 'BAD_ORDER');
  // Orders the series is too short for are skipped, not fatal.
  const short = selectArima(simulate(random, 12, [], []));
  assert.ok(arimaMinimumLength(short.order) <= 12, `short series got ${JSON.stringify(short.order)}`);
});

test('bad input gets a typed error', () => {
  const good = simulate(prng(SEED + 5), 200, [0.5], []);
  const withNaN = good.slice();
  withNaN[50] = NaN;
  const withInfinity = good.slice();
  withInfinity[10] = -Infinity;
  assertKernelError(() => fitArima(withNaN, { p: 1, d: 0, q: 0 }), 'SERIES_NOT_FINITE');
  assertKernelError(() => fitArima(withInfinity, { p: 1, d: 0, q: 0 }), 'SERIES_NOT_FINITE');
  assertKernelError(() => selectArima(withNaN), 'SERIES_NOT_FINITE');
  assertKernelError(() => fitArima(good.subarray(0, 12), { p: 2, d: 1, q: 1 }), 'SERIES_TOO_SHORT');
  assertKernelError(() => selectArima(good.subarray(0, 5)), 'SERIES_TOO_SHORT');
  for (const order of [{ p: 6, d: 0, q: 0 }, { p: 0, d: 3, q: 0 }, { p: 0, d: 0, q: 6 }, { p: -1, d: 0, q: 0 }, { p: 1.5, d: 0, q: 0 }]) {
    assertKernelError(() => fitArima(good, order), 'BAD_ORDER');
  }
  assertKernelError(() => fitArima(new Float64Array(ARIMA_MAX_WINDOW + 1), { p: 1, d: 0, q: 0 }), 'INPUT_TOO_LARGE');
  assertKernelError(() => fitArima(new Float64Array([1e308, -1e308, 1e308, -1e308, 1e308, -1e308, 1e308, -1e308, 1e308, -1e308, 1e308, -1e308]), { p: 0, d: 1, q: 0 }), 'SERIES_NOT_FINITE');
  const model = fitArima(good, { p: 1, d: 0, q: 0 });
  assertKernelError(() => model.forecast(ARIMA_MAX_HORIZON + 1), 'INPUT_TOO_LARGE');
  const before = model.predictNext();
  assertKernelError(() => model.update(NaN), 'SERIES_NOT_FINITE');
  assertKernelError(() => model.updateMany(new Float64Array([1, Infinity])), 'SERIES_NOT_FINITE');
  assert.equal(model.predictNext(), before, 'a rejected update leaves the state unchanged');
});

test('a constant series falls back to a named constant model with finite forecasts', () => {
  for (const order of [{ p: 2, d: 0, q: 1 }, { p: 2, d: 1, q: 1 }, { p: 1, d: 2, q: 0 }]) {
    const model = fitArima(new Float64Array(100).fill(42.5), order);
    assert.equal(model.fallback, 'constant');
    assert.deepEqual(model.order, { p: 0, d: order.d, q: 0 });
    assert.ok(model.sigma2 > 0 && Number.isFinite(model.sigma2));
    assertFiniteForecast(model);
    assert.ok(Math.abs(model.forecast(5).mean[4]! - 42.5) < 1e-9);
  }
  // A straight line is constant after one difference: the model keeps its slope.
  const line = Float64Array.from({ length: 50 }, (_, i) => 3 + 2 * i);
  const model = fitArima(line, { p: 1, d: 1, q: 0 });
  assert.equal(model.fallback, 'constant');
  assert.ok(Math.abs(model.forecast(3).mean[2]! - (3 + 2 * 52)) < 1e-9);
  assert.equal(selectArima(new Float64Array(100).fill(0)).fallback, 'constant');
});

test('a diverged fit falls back to the mean (d = 0) or the random walk (d >= 1)', () => {
  const diverging: ArimaEngine = { fitArma: () => false, forecast: wasmEngine.forecast };
  const series = simulate(prng(SEED + 6), 300, [0.5], [], 7);
  const stationary = fitArimaWith(diverging, series, { p: 2, d: 0, q: 1 });
  assert.equal(stationary.fallback, 'mean');
  assert.deepEqual(stationary.order, { p: 0, d: 0, q: 0 });
  assertFiniteForecast(stationary);
  const integrated = fitArimaWith(diverging, series, { p: 1, d: 2, q: 1 });
  assert.equal(integrated.fallback, 'random-walk');
  assert.deepEqual(integrated.order, { p: 0, d: 1, q: 0 });
  assert.equal(integrated.forecast(3).mean[2], series[series.length - 1]);
});

test('forecasts stay finite for extreme but finite series', () => {
  const random = prng(SEED + 7);
  const huge = simulate(random, 300, [0.9], [], 0).map((v) => v * 1e150);
  const tiny = simulate(random, 300, [0.9], [], 0).map((v) => v * 1e-150);
  const spiky = simulate(random, 300, [], []).map((v, i) => (i % 97 === 0 ? v * 1e12 : v));
  for (const series of [huge, tiny, spiky]) {
    for (const order of [{ p: 2, d: 0, q: 1 }, { p: 2, d: 2, q: 2 }]) assertFiniteForecast(fitArima(series, order), ARIMA_MAX_HORIZON);
    assertFiniteForecast(selectArima(series));
  }
});
