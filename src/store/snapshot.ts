/**
 * Snapshots of a shard's state: `snapshots/<lsn, 16 digits>.snap`, the state as of that applied lsn.
 * Written atomically (temp file, fsync, rename, directory fsync) and checked by a CRC-32C trailer,
 * so a crash leaves either the old set of snapshots or the old set plus a complete new one.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from './crc32c.js';
import { writeFileAtomic } from './files.js';
import { ShardState, type StateEntry } from './state.js';

const SNAPSHOT_MAGIC = Buffer.from('FSHDSNP1', 'latin1');
const HEADER_BYTES = 40;
const ENTRY_HEADER_BYTES = 14;
/** Entries are serialized into chunks of about this size. */
const CHUNK_BYTES = 1024 * 1024;

export interface SnapshotInfo {
  lsn: number;
  path: string;
}

/** Snapshot files in `dir`, newest first. */
export function listSnapshots(dir: string): SnapshotInfo[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return names
    .map((name) => /^(\d{16})\.snap$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ lsn: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => b.lsn - a.lsn);
}

function u64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32LE(value % 0x1_0000_0000, offset);
  buffer.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

function readU64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset) + buffer.readUInt32LE(offset + 4) * 0x1_0000_0000;
}

/** Serializes a state's entries as of (lsn, epoch, ts) into chunks ending with the CRC trailer. */
export function encodeSnapshot(entries: readonly StateEntry[], lsn: number, epoch: number, ts: number): Buffer[] {
  const header = Buffer.alloc(HEADER_BYTES);
  SNAPSHOT_MAGIC.copy(header, 0);
  u64(header, lsn, 8);
  u64(header, epoch, 16);
  u64(header, ts, 24);
  header.writeUInt32LE(entries.length, 32);
  const chunks: Buffer[] = [header];
  let parts: Buffer[] = [];
  let partBytes = 0;
  for (const entry of entries) {
    const entryHeader = Buffer.allocUnsafe(ENTRY_HEADER_BYTES);
    entryHeader.writeUInt16LE(entry.key.length, 0);
    entryHeader.writeUInt32LE(entry.value.length, 2);
    u64(entryHeader, entry.lsn, 6);
    parts.push(entryHeader, entry.key, entry.value);
    partBytes += ENTRY_HEADER_BYTES + entry.key.length + entry.value.length;
    if (partBytes >= CHUNK_BYTES) {
      chunks.push(Buffer.concat(parts, partBytes));
      parts = [];
      partBytes = 0;
    }
  }
  if (partBytes > 0) chunks.push(Buffer.concat(parts, partBytes));
  let crc = 0;
  for (const chunk of chunks) crc = crc32c(chunk, crc);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(crc, 0);
  chunks.push(trailer);
  return chunks;
}

/** Writes a snapshot of `entries` atomically and removes all but the newest `keep` snapshots. */
export function writeSnapshot(dir: string, entries: readonly StateEntry[], lsn: number, epoch: number, ts: number, keep: number): string {
  const path = join(dir, `${String(lsn).padStart(16, '0')}.snap`);
  writeFileAtomic(path, encodeSnapshot(entries, lsn, epoch, ts));
  for (const old of listSnapshots(dir).slice(keep)) rmSync(old.path, { force: true });
  return path;
}

/** A loaded snapshot: the state it holds and the epoch it was taken at. */
export interface LoadedSnapshot {
  state: ShardState;
  lsn: number;
  epoch: number;
  path: string;
}

/** Reads and verifies a snapshot file; returns undefined (never a partial state) when it is damaged. */
export function readSnapshot(path: string): LoadedSnapshot | undefined {
  const bytes = readFileSync(path);
  if (bytes.length < HEADER_BYTES + 4 || !bytes.subarray(0, 8).equals(SNAPSHOT_MAGIC)) return undefined;
  if (crc32c(bytes, 0, 0, bytes.length - 4) !== bytes.readUInt32LE(bytes.length - 4)) return undefined;
  const state = new ShardState();
  const lsn = readU64(bytes, 8);
  const count = bytes.readUInt32LE(32);
  let offset = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (offset + ENTRY_HEADER_BYTES > bytes.length - 4) return undefined;
    const keyLength = bytes.readUInt16LE(offset);
    const valueLength = bytes.readUInt32LE(offset + 2);
    const entryLsn = readU64(bytes, offset + 6);
    const keyStart = offset + ENTRY_HEADER_BYTES;
    if (keyStart + keyLength + valueLength > bytes.length - 4) return undefined;
    const key = Buffer.from(bytes.subarray(keyStart, keyStart + keyLength));
    state.put(key, Buffer.from(bytes.subarray(keyStart + keyLength, keyStart + keyLength + valueLength)), entryLsn);
    offset = keyStart + keyLength + valueLength;
  }
  state.appliedLsn = lsn;
  state.appliedTs = readU64(bytes, 24);
  return { state, lsn, epoch: readU64(bytes, 16), path };
}

/**
 * The newest snapshot that verifies and satisfies `accept` (e.g. lsn <= target). Damaged ones are
 * skipped and returned in `damaged` so the caller reports them.
 */
export function loadLatestSnapshot(dir: string, accept: (lsn: number, ts: number) => boolean = () => true): { snapshot?: LoadedSnapshot; damaged: string[] } {
  const damaged: string[] = [];
  for (const info of listSnapshots(dir)) {
    const snapshot = readSnapshot(info.path);
    if (!snapshot) {
      damaged.push(info.path);
      continue;
    }
    if (accept(snapshot.lsn, snapshot.state.appliedTs)) return { snapshot, damaged };
  }
  return { damaged };
}
