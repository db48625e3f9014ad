// Proves the WebAssembly ARIMA kernel computes what the pure-TypeScript reference computes: the CSS
// likelihood at random coefficients, and the fitted coefficients, sigma2, AIC, forecasts and
// intervals of random ARIMA(p<=5, d<=2, q<=5) series, drawn from a seeded PRNG (seed printed on failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cssLogLikelihood, fitArima } from '../../src/kernels/arima.js';
import { cssLogLikelihoodReference, fitArimaReference } from '../../src/kernels/arima-reference.js';
import { mulberry32 as prng } from '../../src/common/random.js';

const SEED = Number(process.env.FORESHARD_TEST_SEED ?? 20260301);


function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** A random ARIMA series: stationary AR (small coefficients), MA noise, d integrations, random level and scale. */
function randomSeries(random: () => number, length: number, p: number, d: number, q: number): Float64Array {
  const ar = Array.from({ length: p }, () => (random() - 0.5) * (0.9 / Math.max(1, p)));
  const ma = Array.from({ length: q }, () => (random() - 0.5) * 0.8);
  const scale = 10 ** Math.floor(random() * 6 - 2);
  const level = (random() - 0.5) * 100 * scale;
  const w = new Float64Array(length);
  const noise = Array.from({ length }, () => gaussian(random));
  for (let t = 0; t < length; t++) {
    let value = noise[t]!;
    for (let i = 0; i < p && i < t; i++) value += ar[i]! * w[t - 1 - i]!;
    for (let j = 0; j < q && j < t; j++) value += ma[j]! * noise[t - 1 - j]!;
    w[t] = value;
  }
  let series = w;
  for (let pass = 0; pass < d; pass++) {
    const integrated = new Float64Array(length);
    let sum = 0;
    for (let t = 0; t < length; t++) integrated[t] = sum += series[t]!;
    series = integrated;
  }
  return series.map((v) => level + scale * v);
}

function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  const scale = Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance * scale, `${what}: ${actual} vs reference ${expected} (seed ${SEED})`);
}

test('the kernel likelihood equals the reference at random coefficients', () => {
  const random = prng(SEED);
  for (let round = 0; round < 50; round++) {
    const p = Math.floor(random() * 6);
    const q = Math.floor(random() * 6);
    const w = randomSeries(random, 50 + Math.floor(random() * 500), p, 0, q);
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const ar = Float64Array.from({ length: p }, () => (random() - 0.5) / Math.max(1, p));
    const ma = Float64Array.from({ length: q }, () => (random() - 0.5) / Math.max(1, q));
    assertClose(cssLogLikelihood(w, mean, ar, ma), cssLogLikelihoodReference(w, mean, ar, ma), 1e-12, `round ${round} log-likelihood`);
  }
});

test('kernel fits and forecasts equal the reference on random ARIMA series', () => {
  const random = prng(SEED + 1);
  for (let round = 0; round < 40; round++) {
    const order = { p: Math.floor(random() * 6), d: Math.floor(random() * 3), q: Math.floor(random() * 6) };
    const series = randomSeries(random, 60 + Math.floor(random() * 600), order.p, order.d, order.q);
    const kernel = fitArima(series, order);
    const reference = fitArimaReference(series, order);
    const what = `round ${round} ARIMA(${order.p},${order.d},${order.q}) n=${series.length}`;
    assert.equal(kernel.fallback, reference.fallback, `${what}: fallback (seed ${SEED})`);
    assert.deepEqual(kernel.order, reference.order);
    kernel.ar.forEach((v, i) => assertClose(v, reference.ar[i]!, 1e-6, `${what} ar[${i}]`));
    kernel.ma.forEach((v, i) => assertClose(v, reference.ma[i]!, 1e-6, `${what} ma[${i}]`));
    assertClose(kernel.sigma2, reference.sigma2, 1e-6, `${what} sigma2`);
    assertClose(kernel.aic, reference.aic, 1e-6, `${what} aic`);
    const ours = kernel.forecast(24, 0.8);
    const theirs = reference.forecast(24, 0.8);
    const spread = Math.sqrt(reference.sigma2);
    for (let h = 0; h < 24; h++) {
      for (const key of ['mean', 'lower', 'upper'] as const) {
        // Compare in units of the innovation scale: the level of a series can dwarf its noise.
        assertClose((ours[key][h]! - theirs[key][h]!) / spread, 0, 1e-5, `${what} ${key}[${h}]`);
      }
    }
  }
});
