/**
 * `foreshard/kernels`: the WebAssembly kernels (delta codec, ARIMA, probabilities) behind typed
 * TypeScript wrappers, plus the pure-TypeScript reference of each.
 *
 * @module
 */
export { KernelError, type KernelErrorCode } from './errors.js';
export * from './arima.js';
export { fitArimaReference, selectArimaReference, cssLogLikelihoodReference, type ArimaEngine, type ArimaForecastInput } from './arima-reference.js';
export { encodeDelta, decodeDelta, configureDeltaKernel, deltaKernelOptions, deltaKernelMemoryBytes, DELTA_KERNEL_DEFAULTS, type DeltaKernelOptions, encodeDeltaReference, decodeDeltaReference, maxDeltaLength, xxhash32, type DeltaReferenceOptions } from './delta.js';
export { breachProbability, breachProbabilityReference, maxBreachSteps, type BreachDirection } from './probability.js';
