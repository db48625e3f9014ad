/**
 * `foreshard/kernels`: the WebAssembly kernels (delta codec, ARIMA, probabilities) behind typed
 * TypeScript wrappers, plus the pure-TypeScript reference of each.
 *
 * @module
 */
export { KernelError, type KernelErrorCode } from './errors.js';
