/**
 * The probability math the scoring engine uses: the breach probability from the WebAssembly
 * probability kernel, and the scalar helpers from its TypeScript reference (a WASM call per scalar
 * would cost more than the arithmetic). The method is in docs/scoring.md.
 */
export { breachProbability } from '../kernels/probability.js';
export { clamp01, intervalZ, inverseNormal, logScale, normalTail, type BreachDirection } from '../kernels/probability-reference.js';
