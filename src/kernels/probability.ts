/**
 * The probability kernel behind `foreshard/kernels`: the breach probability within a horizon, over
 * the WebAssembly kernel in assembly/probability.ts. `./probability-reference.js` is the same math in
 * plain TypeScript (and documents it).
 *
 * One kernel instance serves every call. Its input region is static: a forecast crosses into it as
 * three copies into views made once (the kernel never grows its memory), and the result is a number.
 */
import assert from 'node:assert/strict';
import { intervalZ, type BreachDirection } from './probability-reference.js';
import { instantiateKernel } from './wasm.js';

// The reference is part of the same public surface, so `foreshard/kernels` registers one module.
export {
  breachProbabilityReference,
  normalTail as normalTailReference,
  logScale as logScaleReference,
  intervalZ,
  type BreachDirection,
} from './probability-reference.js';

interface ProbabilityExports extends Record<string, unknown> {
  forecastPointer(): number;
  maxSteps(): number;
  normalTail(z: number): number;
  logScale(likelihood: number): number;
  breach(steps: number, threshold: number, above: number, z: number): number;
}

interface Instance {
  exports: ProbabilityExports;
  mean: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  maxSteps: number;
}

let instance: Instance | undefined;

function kernel(): Instance {
  if (instance) return instance;
  const exports = instantiateKernel<ProbabilityExports>('probability');
  const maxSteps = exports.maxSteps();
  const base = exports.forecastPointer();
  const buffer = exports.memory.buffer;
  instance = {
    exports,
    maxSteps,
    mean: new Float64Array(buffer, base, maxSteps),
    lower: new Float64Array(buffer, base + maxSteps * 8, maxSteps),
    upper: new Float64Array(buffer, base + 2 * maxSteps * 8, maxSteps),
  };
  return instance;
}

/** Longest horizon, in steps, that {@link breachProbability} accepts. */
export function maxBreachSteps(): number {
  return kernel().maxSteps;
}

/**
 * P(the series crosses `threshold` at any forecast step), computed in WebAssembly; the method (the
 * midpoint of the correlated and independent bounds) is documented on the reference.
 */
export function breachProbability(
  mean: ArrayLike<number>,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
  threshold: number,
  direction: BreachDirection,
  level: number,
): number {
  const k = kernel();
  const steps = mean.length;
  assert.ok(steps > 0 && steps <= k.maxSteps && lower.length === steps && upper.length === steps, `forecast arrays must match, 1..${k.maxSteps} steps`);
  for (let step = 0; step < steps; step++) {
    k.mean[step] = mean[step]!;
    k.lower[step] = lower[step]!;
    k.upper[step] = upper[step]!;
  }
  return k.exports.breach(steps, threshold, direction === 'above' ? 1 : 0, intervalZ(level));
}

/** The standard normal upper tail Q(z), computed in WebAssembly. */
export function normalTail(z: number): number {
  return kernel().exports.normalTail(z);
}

/** Numenta's log scale of a likelihood, computed in WebAssembly. */
export function logScale(likelihood: number): number {
  return kernel().exports.logScale(likelihood);
}
