/**
 * The delta codec shadows use for differential frames (DESIGN.md §2), over the WebAssembly kernel
 * in assembly/delta.ts. The format is in docs/delta-format.md; `./delta-reference.js` is the same
 * codec in plain TypeScript.
 *
 * One kernel instance serves every call. Its memory is allocated once, reused, and grown only when
 * a larger input arrives, up to `memoryLimitBytes`. Inputs cross into the kernel as (pointer, length)
 * into that memory, and results are copied out, so a returned array never aliases kernel memory.
 */
import assert from 'node:assert/strict';
import { KernelError } from './errors.js';
import { instantiateKernel } from './wasm.js';
import { DELTA_MAX_VALUE_BYTES_DEFAULT, maxDeltaLength } from './delta-reference.js';

// The reference is part of the same public surface, so `foreshard/kernels` registers one module.
export { encodeDeltaReference, decodeDeltaReference, maxDeltaLength, xxhash32, type DeltaReferenceOptions } from './delta-reference.js';

/** Limits of the delta kernel. */
export interface DeltaKernelOptions {
  /** Largest base, target or declared target length accepted, in bytes (default 16 MiB). */
  maxValueBytes: number;
  /** Ceiling on the kernel's linear memory, in bytes (default 128 MiB). */
  memoryLimitBytes: number;
}

/** The defaults of {@link DeltaKernelOptions}. */
export const DELTA_KERNEL_DEFAULTS: Readonly<DeltaKernelOptions> = Object.freeze({
  maxValueBytes: DELTA_MAX_VALUE_BYTES_DEFAULT,
  memoryLimitBytes: 128 * 1024 * 1024,
});

// Lengths cross into the kernel as u32 and instruction lengths are shifted left by 2, so values stay
// below 2^28; the stub runtime caps one heap block at 1 GiB, so memory does too.
const MAX_VALUE_BYTES_CEILING = 256 * 1024 * 1024;
const MEMORY_LIMIT_BYTES_FLOOR = 1024 * 1024;
const MEMORY_LIMIT_BYTES_CEILING = 1024 * 1024 * 1024;

// Decode status codes of the kernel (assembly/delta.ts).
const STATUS_OK = 0;
const STATUS_TRUNCATED = 1;
const STATUS_WRONG_BASE_LENGTH = 3;
const STATUS_CHECKSUM_MISMATCH = 4;
const STATUS_TARGET_TOO_LARGE = 5;
const STATUS_MEMORY_LIMIT = 6;
/** The kernel's malformed-delta statuses, each with the reason the reference decoder also gives. */
const MALFORMED_REASONS: ReadonlyMap<number, string> = new Map([
  [10, 'bad magic byte'],
  [11, 'unknown version'],
  [12, 'a varint does not fit 32 bits'],
  [13, 'reserved instruction kind 3'],
  [14, 'an instruction runs past the target length'],
  [15, 'a copy reads outside the base'],
  [16, 'bytes after the last instruction'],
]);

interface DeltaExports extends Record<string, unknown> {
  configure(limitBytes: number): void;
  encodePrepare(baseLength: number, targetLength: number): number;
  encode(): number;
  decodePrepare(baseLength: number, deltaLength: number): number;
  decode(maxTargetLength: number): number;
  inputPointerOf(): number;
  resultPointer(): number;
  resultSize(): number;
}

type DeltaKernel = ReturnType<typeof instantiateKernel<DeltaExports>>;

let options: Readonly<DeltaKernelOptions> = DELTA_KERNEL_DEFAULTS;
let kernel: DeltaKernel | undefined;
let memoryView = new Uint8Array(0);

/**
 * Sets the delta kernel's limits. Values are clamped to what the kernel supports (values up to
 * 256 MiB, memory from 1 MiB to 1 GiB). Lowering the memory ceiling below what the instance already
 * holds drops the instance, so its memory is released. Returns the options now in force.
 */
export function configureDeltaKernel(overrides: Partial<DeltaKernelOptions>): Readonly<DeltaKernelOptions> {
  const merged = { ...options, ...overrides };
  assert(Number.isSafeInteger(merged.maxValueBytes) && merged.maxValueBytes >= 0, 'maxValueBytes is a non-negative integer');
  assert(Number.isSafeInteger(merged.memoryLimitBytes) && merged.memoryLimitBytes > 0, 'memoryLimitBytes is a positive integer');
  options = Object.freeze({
    maxValueBytes: Math.min(merged.maxValueBytes, MAX_VALUE_BYTES_CEILING),
    memoryLimitBytes: Math.min(Math.max(merged.memoryLimitBytes, MEMORY_LIMIT_BYTES_FLOOR), MEMORY_LIMIT_BYTES_CEILING),
  });
  if (kernel) {
    if (kernel.memory.buffer.byteLength > options.memoryLimitBytes) dropKernel();
    else kernel.configure(options.memoryLimitBytes);
  }
  return options;
}

/** The delta kernel's limits in force. */
export function deltaKernelOptions(): Readonly<DeltaKernelOptions> {
  return options;
}

/** Bytes of linear memory the delta kernel holds now (0 before its first call). */
export function deltaKernelMemoryBytes(): number {
  return kernel ? kernel.memory.buffer.byteLength : 0;
}

function dropKernel(): void {
  kernel = undefined;
  memoryView = new Uint8Array(0);
}

function loadKernel(): DeltaKernel {
  if (!kernel) {
    kernel = instantiateKernel<DeltaExports>('delta');
    kernel.configure(options.memoryLimitBytes);
  }
  return kernel;
}

/** A view of the kernel's memory, recreated when a call has grown (and so replaced) the buffer. */
function bytesOf(instance: DeltaKernel): Uint8Array {
  if (memoryView.buffer !== instance.memory.buffer) memoryView = new Uint8Array(instance.memory.buffer);
  return memoryView;
}

/** Runs `body` against the kernel; a trap means a kernel bug, so the instance is dropped first. */
function withKernel<T>(body: (instance: DeltaKernel) => T): T {
  const instance = loadKernel();
  try {
    return body(instance);
  } catch (error) {
    if (!(error instanceof KernelError)) dropKernel();
    throw error;
  }
}

function checkValueLength(what: string, length: number, limit: number): void {
  if (length > limit) {
    throw new KernelError('INPUT_TOO_LARGE', `delta ${what} of ${length} bytes is over the limit of ${limit} bytes`);
  }
}

function memoryLimitError(): KernelError {
  return new KernelError('MEMORY_LIMIT', `the delta kernel needs more than its memory limit of ${options.memoryLimitBytes} bytes`);
}

/** The delta that turns `base` into `target` (docs/delta-format.md): at most `maxDeltaLength(base.length, target.length)`, so at most `target.length` + 18 bytes for values up to 16 MiB. */
export function encodeDelta(base: Uint8Array, target: Uint8Array): Uint8Array {
  checkValueLength('base', base.length, options.maxValueBytes);
  checkValueLength('target', target.length, options.maxValueBytes);
  return withKernel((instance) => {
    const basePointer = instance.encodePrepare(base.length, target.length);
    if (basePointer === 0) throw memoryLimitError();
    const memory = bytesOf(instance);
    memory.set(base, basePointer);
    memory.set(target, instance.inputPointerOf());
    const length = instance.encode();
    const resultPointer = instance.resultPointer();
    return bytesOf(instance).slice(resultPointer, resultPointer + length);
  });
}

/**
 * Applies `delta` to `base` and returns the target. Throws a KernelError with code DELTA_TRUNCATED,
 * DELTA_MALFORMED or DELTA_WRONG_BASE for a bad delta, INPUT_TOO_LARGE or MEMORY_LIMIT past a limit.
 */
export function decodeDelta(base: Uint8Array, delta: Uint8Array): Uint8Array {
  checkValueLength('base', base.length, options.maxValueBytes);
  checkValueLength('delta', delta.length, maxDeltaLength(options.maxValueBytes, options.maxValueBytes));
  return withKernel((instance) => {
    const basePointer = instance.decodePrepare(base.length, delta.length);
    if (basePointer === 0) throw memoryLimitError();
    const memory = bytesOf(instance);
    memory.set(base, basePointer);
    memory.set(delta, instance.inputPointerOf());
    const status = instance.decode(options.maxValueBytes);
    if (status !== STATUS_OK) throw decodeError(status, base.length, delta);
    const resultPointer = instance.resultPointer();
    return bytesOf(instance).slice(resultPointer, resultPointer + instance.resultSize());
  });
}

function decodeError(status: number, baseLength: number, delta: Uint8Array): KernelError {
  switch (status) {
    case STATUS_TRUNCATED:
      return new KernelError('DELTA_TRUNCATED', 'delta ends before its last instruction');
    case STATUS_WRONG_BASE_LENGTH:
      return new KernelError('DELTA_WRONG_BASE', `delta expects a base of another length than ${baseLength} bytes`);
    case STATUS_CHECKSUM_MISMATCH:
      return new KernelError('DELTA_WRONG_BASE', 'target checksum mismatch: the delta was made against another base, or is corrupt');
    case STATUS_TARGET_TOO_LARGE:
      return new KernelError('INPUT_TOO_LARGE', `delta of ${delta.length} bytes declares a target over the limit of ${options.maxValueBytes} bytes`);
    case STATUS_MEMORY_LIMIT:
      return memoryLimitError();
  }
  const reason = MALFORMED_REASONS.get(status);
  assert(reason !== undefined, `delta kernel returned unknown status ${status}`);
  return new KernelError('DELTA_MALFORMED', `malformed delta: ${reason}`);
}
