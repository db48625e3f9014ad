/**
 * Read-only verification of a shard's log: every segment of both tiers scans cleanly, lsns are
 * consecutive across segments, epochs never go back. The crash tests run it after every kill.
 */
import { readFileSync } from 'node:fs';
import { listSegments, readColdSegment } from './log.js';
import { shardDirectories } from './options.js';
import { scanSegment } from './segment.js';

export interface LogVerification {
  ok: boolean;
  records: number;
  firstLsn: number;
  lastLsn: number;
  problems: string[];
}

/** Scans the log of `shard` under `dataDir` without changing anything. */
export function verifyShardLog(dataDir: string, shard: number): LogVerification {
  const dirs = shardDirectories(dataDir, shard);
  const { hot, cold } = listSegments({ logDir: dirs.logDir, coldDir: dirs.coldDir }, false);
  const result: LogVerification = { ok: true, records: 0, firstLsn: 0, lastLsn: 0, problems: [] };
  let epoch = 0;
  const check = (firstLsn: number, lastLsn: number, path: string): void => {
    if (result.records > 0 && firstLsn !== result.lastLsn + 1) result.problems.push(`${path}: starts at lsn ${firstLsn} after ${result.lastLsn}`);
    if (result.records === 0) result.firstLsn = firstLsn;
  };
  for (const segment of cold) {
    try {
      const records = readColdSegment(segment);
      check(segment.firstLsn, segment.lastLsn, segment.path);
      result.records += records.length;
      result.lastLsn = segment.lastLsn;
    } catch (error) {
      result.problems.push((error as Error).message);
    }
  }
  for (const segment of hot) {
    const scan = scanSegment(readFileSync(segment.path), segment.firstLsn, epoch);
    if (scan.recordCount > 0) check(scan.firstLsn, scan.lastLsn, segment.path);
    if (scan.problem) result.problems.push(`${segment.path}: ${scan.problem.problem} at offset ${scan.problem.offset}`);
    result.records += scan.recordCount;
    if (scan.recordCount > 0) result.lastLsn = scan.lastLsn;
    epoch = scan.lastEpoch;
  }
  result.ok = result.problems.length === 0;
  return result;
}
