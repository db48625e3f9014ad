/**
 * Counting and logging dropped payloads (DESIGN.md §5: "a bad payload is counted, logged with its
 * source, and dropped, and the process goes on"). Decoders throw {@link ProtocolError}; these
 * helpers catch exactly that, report it with its kind and source, and return `undefined`. Any
 * other error is a bug and still propagates.
 */
import { ProtocolError, type ProtocolErrorCode } from './errors.js';
import { decodeMessage, type MessageKind, type MessageTypes } from './messages.js';

/** One dropped payload. */
export interface Drop {
  /** The message kind, e.g. `score` or `data-frame`. */
  kind: string;
  /** Where it came from: a topic, a peer address, a connection id. */
  source: string;
  error: ProtocolError;
}

/** Receives every drop. */
export type DropHandler = (drop: Drop) => void;

/** Snapshot of a {@link DropCounter}. */
export interface DropCounts {
  total: number;
  byReason: Partial<Record<ProtocolErrorCode, number>>;
  byKind: Record<string, number>;
  /** At most `maxSources` sources; the rest are summed under {@link OTHER_SOURCES}. */
  bySource: Record<string, number>;
}

/** Counts drops by reason, kind and source, and logs a bounded sample of them. */
export interface DropCounter {
  /** Pass this as the `onDrop` of {@link decodeOrDrop}. */
  readonly onDrop: DropHandler;
  counts(): DropCounts;
}

/** Most distinct sources a drop counter tracks. */
export const MAX_DROP_SOURCES = 256;
/** The source name that sums drops from sources past {@link MAX_DROP_SOURCES}. */
export const OTHER_SOURCES = '(other)';
/** Drops logged per reason before logging thins out to one in {@link DROP_LOG_EVERY}. */
export const DROP_LOG_FIRST = 10;
/** After the first {@link DROP_LOG_FIRST} drops of a reason, one in this many is logged. */
export const DROP_LOG_EVERY = 1000;

/** Options of {@link createDropCounter}. */
export interface DropCounterOptions {
  maxSources?: number;
  /** Called for the drops worth logging (a flood of garbage does not flood the log). */
  log?: (drop: Drop, countOfReason: number) => void;
}

/** Creates a {@link DropCounter}. */
export function createDropCounter(options: DropCounterOptions = {}): DropCounter {
  const maxSources = options.maxSources ?? MAX_DROP_SOURCES;
  const byReason = new Map<ProtocolErrorCode, number>();
  const byKind = new Map<string, number>();
  const bySource = new Map<string, number>();
  let total = 0;
  const bump = <K>(map: Map<K, number>, key: K): number => {
    const count = (map.get(key) ?? 0) + 1;
    map.set(key, count);
    return count;
  };
  return {
    onDrop(drop) {
      total++;
      const countOfReason = bump(byReason, drop.error.code);
      bump(byKind, drop.kind);
      bump(bySource, bySource.has(drop.source) || bySource.size < maxSources ? drop.source : OTHER_SOURCES);
      if (options.log && (countOfReason <= DROP_LOG_FIRST || countOfReason % DROP_LOG_EVERY === 0)) options.log(drop, countOfReason);
    },
    counts: () => ({
      total,
      byReason: Object.fromEntries(byReason),
      byKind: Object.fromEntries(byKind),
      bySource: Object.fromEntries(bySource),
    }),
  };
}

/**
 * Runs `decode`; a {@link ProtocolError} it throws goes to `onDrop` with `kind` and `source`, and
 * the result is `undefined`. Use it for data port frames and client frames as well as MQTT payloads.
 */
export function dropOnError<T>(kind: string, source: string, onDrop: DropHandler, decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    onDrop({ kind, source, error });
    return undefined;
  }
}

/** Decodes an MQTT payload of `kind`, or reports it to `onDrop` and returns `undefined`. */
export function decodeOrDrop<K extends MessageKind>(kind: K, bytes: Uint8Array, source: string, onDrop: DropHandler): MessageTypes[K] | undefined {
  return dropOnError(kind, source, onDrop, () => decodeMessage(kind, bytes));
}
