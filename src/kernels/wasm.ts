import { readFileSync } from 'node:fs';
import { instantiateSync, type ASUtil } from '@assemblyscript/loader';
import { KernelError } from './errors.js';

/** The compiled kernels live in build/<name>.wasm; this file compiles to build/src/kernels/. */
const buildDir = new URL('../../', import.meta.url);

const modules = new Map<string, WebAssembly.Module>();

/**
 * Instantiates build/<name>.wasm synchronously. The compiled module is cached, so each call is a
 * fresh instance with its own memory (callers keep one instance per kernel and reuse it).
 * A trap inside an instance is fatal for that instance only: callers drop it and make a new one.
 */
export function instantiateKernel<T extends Record<string, unknown>>(name: string): ASUtil & T & { memory: WebAssembly.Memory } {
  let module = modules.get(name);
  if (!module) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(new URL(`${name}.wasm`, buildDir));
    } catch (error) {
      throw new KernelError('KERNEL_UNAVAILABLE', `kernel build/${name}.wasm is missing; run \`npm run build\` (${(error as Error).message})`);
    }
    module = new WebAssembly.Module(new Uint8Array(bytes));
    modules.set(name, module);
  }
  const { exports } = instantiateSync<T>(module, {
    env: {
      abort(messagePointer: number, filePointer: number, line: number, column: number) {
        // Kernels abort only on programmer errors (failed assertions); expected failures return status codes.
        throw new Error(`kernel ${name} aborted at ${line}:${column} (message at ${messagePointer}, file at ${filePointer})`);
      },
    },
  });
  return exports as ASUtil & T & { memory: WebAssembly.Memory };
}
