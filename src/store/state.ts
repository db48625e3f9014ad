/**
 * The key/value state of one shard, built by applying log records in lsn order. It counts its own
 * memory (key + value bytes + a fixed per-entry overhead) so the replica can enforce the shard's
 * memory limit before accepting a write.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeDelta } from '../kernels/index.js';
import { StoreError } from './errors.js';
import type { LogRecord } from './record.js';

/**
 * Bytes charged per entry on top of its key and value: the Map slot, the entry object, two Buffer
 * objects and the latin1 string key, as measured roughly with V8 heap snapshots. An estimate, kept
 * on the high side so the limit errs toward refusing early.
 */
export const ENTRY_OVERHEAD_BYTES = 160;

export interface StateEntry {
  key: Buffer;
  value: Buffer;
  /** lsn of the put that wrote this value: the base of the next delta. */
  lsn: number;
}

/** Memory charged for one entry. */
export function entryBytes(keyLength: number, valueLength: number): number {
  return ENTRY_OVERHEAD_BYTES + 2 * keyLength + valueLength;
}

/** A shard's key/value state. */
export class ShardState {
  private readonly entries = new Map<string, StateEntry>();
  /** Memory charged for all entries. */
  bytes = 0;
  appliedLsn = 0;
  /** ts of the last applied record: what "as of time T" is measured against. */
  appliedTs = 0;

  /** The entry of `key`, or undefined. */
  get(key: Uint8Array): StateEntry | undefined {
    return this.entries.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1'));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Sets a value. `key` and `value` must not be mutated afterwards (the caller copies). */
  put(key: Buffer, value: Buffer, lsn: number): void {
    const name = key.toString('latin1');
    const old = this.entries.get(name);
    if (old) this.bytes -= entryBytes(old.key.length, old.value.length);
    this.entries.set(name, { key, value, lsn });
    this.bytes += entryBytes(key.length, value.length);
  }

  /** Removes a key (no-op when absent). */
  del(key: Buffer): void {
    const name = key.toString('latin1');
    const old = this.entries.get(name);
    if (!old) return;
    this.entries.delete(name);
    this.bytes -= entryBytes(old.key.length, old.value.length);
  }

  /**
   * Applies the next record (lsn = appliedLsn + 1), resolving a delta against the key's current
   * value. Throws APPLY_FAILED (and changes nothing) when a delta's base is missing or it does not
   * decode. It keeps the record's key and value buffers as they are (no copy): callers pass records
   * that own their bytes, never views into a larger read buffer that would stay pinned in memory.
   */
  apply(record: LogRecord): void {
    assert.ok(this.appliedLsn === 0 || record.lsn === this.appliedLsn + 1, `apply out of order: ${record.lsn} after ${this.appliedLsn}`);
    if (record.op === 'del') this.del(record.key);
    else this.put(record.key, this.resolveValue(record), record.lsn);
    this.appliedLsn = record.lsn;
    this.appliedTs = record.ts;
  }

  /** The value a put record carries, decoding its delta when it has one. */
  resolveValue(record: LogRecord): Buffer {
    if (!record.delta) return record.value!;
    const base = this.get(record.key);
    if (!base || base.lsn !== record.baseLsn) {
      throw new StoreError('APPLY_FAILED', `delta at lsn ${record.lsn} needs the value at lsn ${record.baseLsn}, state has ${base?.lsn ?? 'none'}`, { lsn: record.lsn });
    }
    try {
      const value = decodeDelta(base.value, record.delta);
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    } catch (error) {
      throw new StoreError('APPLY_FAILED', `delta at lsn ${record.lsn} does not decode: ${(error as Error).message}`, { lsn: record.lsn });
    }
  }

  /** All entries (the live objects; they are never mutated, only replaced). */
  allEntries(): StateEntry[] {
    return Array.from(this.entries.values());
  }

  /** SHA-256 over the sorted (key, value) pairs: equal digests mean equal contents. */
  digest(): string {
    const hash = createHash('sha256');
    const sorted = this.allEntries().sort((a, b) => Buffer.compare(a.key, b.key));
    const lengths = Buffer.alloc(8);
    for (const entry of sorted) {
      lengths.writeUInt32LE(entry.key.length, 0);
      lengths.writeUInt32LE(entry.value.length, 4);
      hash.update(lengths).update(entry.key).update(entry.value);
    }
    return hash.digest('hex');
  }
}
