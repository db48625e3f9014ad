/**
 * The cold tier: sealed segments whose newest record is older than the retention age are gzipped
 * into `cold/<first>-<last>.log.gz` and removed from `log/`. The order makes the move atomic: the
 * compressed file is fsynced and renamed into place (and the directory fsynced) before the hot
 * file is removed; recovery treats a hot file that also exists cold as the leftover of a move.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { fsyncDirectory, writeFileAtomic } from './files.js';
import type { LogDirectories, ShardLog } from './log.js';
import { coldFileName } from './segment.js';

const gzipAsync = promisify(gzip);

/** Moves every sealed segment older than `olderThanTs` to the cold tier; returns how many moved. */
export async function moveSegmentsToCold(log: ShardLog, dirs: LogDirectories, olderThanTs: number): Promise<number> {
  let moved = 0;
  for (const segment of log.sealedSegmentsOlderThan(olderThanTs)) {
    const compressed = await gzipAsync(readFileSync(segment.path));
    const path = join(dirs.coldDir, coldFileName(segment.firstLsn, segment.lastLsn));
    writeFileAtomic(path, [compressed]);
    log.markCold(segment.firstLsn, { firstLsn: segment.firstLsn, lastLsn: segment.lastLsn, path });
    rmSync(segment.path);
    fsyncDirectory(dirs.logDir);
    moved++;
  }
  return moved;
}
