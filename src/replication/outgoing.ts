/**
 * Replication frames on their way out of a primary. A `put` travels as a delta against the key's
 * previous value whenever that is smaller (DESIGN.md §2); a frame is encoded once and shared by
 * every shadow stream. Snapshot chunks carry each entry's lsn, so a delta's base is valid on any
 * shadow that holds the history before it, whether it got that history from the log or a snapshot.
 */
import { encodeDelta } from '../kernels/index.js';
import { encodeDataFrame, type ClientLimits, type ReplicationFrame as WireFrame } from '../protocol/index.js';
import type { PreviousVersion, ReplicationFrame } from '../store/index.js';

/** Values shorter than this always travel literally: a delta's header and checksum would eat the gain. */
export const DELTA_MIN_VALUE_BYTES = 64;

/** One frame ready to ship, in delta form when that won, else literal. */
export class OutgoingFrame {
  private constructor(
    readonly lsn: number,
    /** The encoded wire frame that is shipped. */
    readonly bytes: Uint8Array,
    readonly isDelta: boolean,
    /** Size of the literal form (for a delta frame estimated within a few bytes, so it is not encoded twice). */
    readonly literalSize: number,
  ) {}

  /** Builds the frame; with `useDeltas`, computes the delta against `previous` and keeps it if it is smaller. */
  static build(frame: ReplicationFrame, previous: PreviousVersion | undefined, useDeltas: boolean, limits: ClientLimits): OutgoingFrame {
    const value = frame.value;
    if (useDeltas && value && previous && value.length >= DELTA_MIN_VALUE_BYTES && previous.value.length > 0) {
      const delta = encodeDelta(previous.value, value);
      if (delta.length < value.length) {
        const wire: WireFrame = { type: 'frame', shard: frame.shard, epoch: frame.epoch, lsn: frame.lsn, ts: frame.ts, op: 'put', key: frame.key, delta, baseLsn: previous.lsn };
        const bytes = encodeDataFrame(wire, limits);
        // The literal form swaps the delta for the value and drops `baseLsn` (7 + up to 9 bytes).
        return new OutgoingFrame(frame.lsn, bytes, true, bytes.length - delta.length + value.length - 12);
      }
    }
    const bytes = encodeLiteral(frame, limits);
    return new OutgoingFrame(frame.lsn, bytes, false, bytes.length);
  }
}

/** The literal wire form of a store frame (a log record read for catch-up, or a live write). */
export function encodeLiteral(frame: ReplicationFrame, limits: ClientLimits): Uint8Array {
  const wire: WireFrame = { type: 'frame', shard: frame.shard, epoch: frame.epoch, lsn: frame.lsn, ts: frame.ts, op: frame.op, key: frame.key };
  if (frame.value) wire.value = frame.value;
  if (frame.delta) {
    // A primary's own writes are literal in its log; a promoted shadow's log may still hold deltas as received.
    wire.delta = frame.delta;
    wire.baseLsn = frame.baseLsn!;
  }
  return encodeDataFrame(wire, limits);
}
