/**
 * Installing a snapshot received from a primary into a shadow's directory. The replica must be
 * closed. Its log (both tiers) and snapshots are replaced by the snapshot and an empty segment
 * that starts at `lsn + 1`, so the reopened replica continues from there; conflict files stay.
 * Everything is written with the store's own atomic writers and fsynced before the reopen.
 */
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { shardDirectories } from '../store/index.js';
import { ensureDirectory, fsyncDirectory } from '../store/files.js';
import { writeMeta } from '../store/meta.js';
import { segmentFileName, segmentHeader } from '../store/segment.js';
import { writeSnapshot } from '../store/snapshot.js';
import type { SnapshotEntry } from './follower.js';

/** Snapshots kept after an install (the one installed). */
const SNAPSHOTS_RETAINED_AFTER_INSTALL = 1;

/**
 * Replaces the on-disk replica of `shard` with the snapshot `entries` at `lsn` (role shadow,
 * `epoch`). The snapshot holds no ts, so "as of time T" rollbacks reach back only to frames
 * received after it.
 */
export function installSnapshotFiles(dataDir: string, shard: number, entries: readonly SnapshotEntry[], lsn: number, epoch: number): void {
  const dirs = shardDirectories(dataDir, shard);
  for (const dir of [dirs.logDir, dirs.coldDir, dirs.snapshotDir]) {
    rmSync(dir, { recursive: true, force: true });
    ensureDirectory(dir);
  }
  const stateEntries = entries.map((e) => ({ key: Buffer.from(e.key), value: Buffer.from(e.value), lsn: e.lsn }));
  writeSnapshot(dirs.snapshotDir, stateEntries, lsn, epoch, 0, SNAPSHOTS_RETAINED_AFTER_INSTALL);
  const segmentPath = join(dirs.logDir, segmentFileName(lsn + 1));
  const fd = openSync(segmentPath, 'w');
  try {
    writeSync(fd, segmentHeader(lsn + 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDirectory(dirs.logDir);
  writeMeta(dirs.metaPath, { format: 'foreshard-replica/1', shard, role: 'shadow', epoch });
}
