/**
 * A major garbage collection on a timer, so the agent's heap stays near its live size
 * (docs/agent-memory.md, "What changed"). V8 lets the old generation grow at least 8 MB past what
 * is live before it collects it, and the agent's steady once-a-second garbage fills that room: at
 * 60 s about 15 MB of old space was committed for 9 MB live. A collection every 10 s keeps it near
 * the live size, for about 0.05 points of a core (a few milliseconds of marking every 10 s on a
 * heap of about 10 MB). Nothing is freed that V8 would not free later; it only happens sooner.
 *
 * The collection is V8's own `gc`, the one `--expose-gc` installs. The agent cannot take that flag
 * at start (it is started by units, scripts and tests), so it sets it at run time and takes `gc`
 * from a new context, where V8 installs it; the main context's global object is left as it is.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How often the agent collects. */
export const HEAP_TRIM_INTERVAL_MS = 10_000;
/** A collection is skipped when the heap grew less than this since the last one: there is little to return. */
export const HEAP_TRIM_MIN_GROWTH_BYTES = 1024 * 1024;

type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void | Promise<void>;

/** V8's `gc` function: the global one when node was started with --expose-gc, else one from a new context. */
export function gcFunction(): Gc {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as Gc;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as Gc;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * Starts collecting every `intervalMs` (unless the heap grew less than
 * {@link HEAP_TRIM_MIN_GROWTH_BYTES} since the last collection). The collection runs as its own
 * task (`execution: 'async'`), not inside the timer's callback. Returns a function that stops it.
 */
export function startHeapTrim(intervalMs: number = HEAP_TRIM_INTERVAL_MS): () => void {
  const gc = gcFunction();
  let usedAfterLast = 0;
  const timer = setInterval(() => {
    if (getHeapStatistics().used_heap_size - usedAfterLast < HEAP_TRIM_MIN_GROWTH_BYTES) return;
    void Promise.resolve(gc({ type: 'major', execution: 'async' })).then(() => {
      usedAfterLast = getHeapStatistics().used_heap_size;
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
