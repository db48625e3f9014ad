/**
 * Which ARIMA implementation the scoring engine uses. The default is the kernel behind
 * `foreshard/kernels` (WebAssembly); the pure-TypeScript reference is offered as a peer for the
 * benchmark and for comparison tests.
 */
import { selectArima, selectArimaReference } from '../kernels/index.js';
import type { ArimaFitter } from './series-model.js';

/** The kernel the engine uses unless told otherwise. */
export const kernelFitter: ArimaFitter = Object.freeze({ name: 'kernel', selectArima });

/** The pure-TypeScript reference of the same kernel. */
export const referenceFitter: ArimaFitter = Object.freeze({ name: 'reference', selectArima: selectArimaReference });

/** The fitter used by `foreshard detect`, `foreshard eval` and the agent. */
export function defaultFitter(): ArimaFitter {
  return kernelFitter;
}
