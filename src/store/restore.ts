/**
 * Point-in-time restore: the state of a shard as of an lsn or a wall-clock time, rebuilt from the
 * newest snapshot at or before that point plus the log after it (both tiers). It reads the source
 * replica without changing it, so it can run beside a live agent, and writes a new replica
 * directory (fenced, so it takes no writes until promoted) and optionally a JSON-lines dump.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './errors.js';
import { ensureDirectory } from './files.js';
import { copyRecord, listSegments, readColdSegment } from './log.js';
import { readMeta, writeMeta } from './meta.js';
import { shardDirectories } from './options.js';
import type { LogRecord } from './record.js';
import { scanSegment } from './segment.js';
import { loadLatestSnapshot, writeSnapshot } from './snapshot.js';
import { ShardState } from './state.js';

/** Restore to the last record with lsn <= `lsn`, or with ts <= `timeMs` (the prefix of the log up to T). */
export type RestoreTarget = { lsn: number } | { timeMs: number };

/** Parses `--to`: a decimal lsn, or an ISO-8601 time. */
export function parseRestoreTarget(text: string): RestoreTarget {
  if (/^\d+$/.test(text)) return { lsn: Number(text) };
  const timeMs = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(timeMs)) {
    throw new StoreError('BAD_TARGET', `--to must be an lsn (digits) or an ISO-8601 time, got ${JSON.stringify(text)}`);
  }
  return { timeMs };
}

export interface RestoreReport {
  shard: number;
  snapshotLsn: number;
  /** lsn and ts of the last record in the restored state. */
  lsn: number;
  ts: number;
  keys: number;
  digest: string;
  replayedRecords: number;
  outShardDir: string;
  dumpPath?: string;
  /** Set when the source log has a damaged tail; the restore used the records before it. */
  logProblem?: string;
}

/** Every record of a shard's log in lsn order, both tiers, read-only; stops at the first damaged record. */
function* readAllRecords(dataDir: string, shard: number, problems: string[]): Generator<LogRecord> {
  const dirs = shardDirectories(dataDir, shard);
  const { hot, cold } = listSegments({ logDir: dirs.logDir, coldDir: dirs.coldDir }, false);
  for (const segment of cold) for (const record of readColdSegment(segment)) yield copyRecord(record);
  for (const segment of hot) {
    const records: LogRecord[] = [];
    const scan = scanSegment(readFileSync(segment.path), segment.firstLsn, 0, (r) => records.push(copyRecord(r)));
    yield* records;
    if (scan.problem) {
      problems.push(`${segment.path} at offset ${scan.problem.offset}: ${scan.problem.problem}`);
      return;
    }
  }
}

/** Rebuilds shard `shard` of `dataDir` as of `to` into `<outDir>/shards/<shard>/`. */
export function restoreShard(dataDir: string, shard: number, to: RestoreTarget, outDir: string, dump: boolean): RestoreReport {
  const source = shardDirectories(dataDir, shard);
  if (!existsSync(source.shardDir)) throw new StoreError('NOT_FOUND', `no shard ${shard} under ${dataDir} (looked for ${source.shardDir})`);
  const target = shardDirectories(outDir, shard);
  if (existsSync(target.shardDir)) throw new StoreError('OUT_EXISTS', `${target.shardDir} already exists; restore writes a new replica directory`);
  const within = (lsn: number, ts: number): boolean => ('lsn' in to ? lsn <= to.lsn : ts <= to.timeMs);
  const { snapshot } = loadLatestSnapshot(source.snapshotDir, within);
  const state = snapshot?.state ?? new ShardState();
  const problems: string[] = [];
  let replayed = 0;
  let lastSeenLsn = state.appliedLsn;
  for (const record of readAllRecords(dataDir, shard, problems)) {
    lastSeenLsn = Math.max(lastSeenLsn, record.lsn);
    if (record.lsn <= state.appliedLsn) continue;
    if (!within(record.lsn, record.ts)) break;
    if (record.lsn !== state.appliedLsn + 1 && state.appliedLsn !== 0) {
      throw new StoreError('LOG_CORRUPT', `log of shard ${shard} misses lsns ${state.appliedLsn + 1}..${record.lsn - 1}`);
    }
    state.apply(record);
    replayed++;
  }
  if ('lsn' in to && to.lsn > lastSeenLsn) throw new StoreError('NOT_FOUND', `shard ${shard}'s log ends at lsn ${lastSeenLsn}, before ${to.lsn}`);
  const epoch = readMeta(source.metaPath)?.epoch ?? snapshot?.epoch ?? 1;
  for (const dir of [target.logDir, target.coldDir, target.snapshotDir, target.conflictDir]) ensureDirectory(dir);
  writeMeta(target.metaPath, { format: 'foreshard-replica/1', shard, role: 'fenced', epoch });
  writeSnapshot(target.snapshotDir, state.allEntries(), state.appliedLsn, epoch, state.appliedTs, 1);
  const report: RestoreReport = {
    shard, snapshotLsn: snapshot?.lsn ?? 0, lsn: state.appliedLsn, ts: state.appliedTs, keys: state.size,
    digest: state.digest(), replayedRecords: replayed, outShardDir: target.shardDir,
  };
  if (problems.length > 0) report.logProblem = problems.join('; ');
  if (dump) {
    report.dumpPath = join(target.shardDir, 'dump.jsonl');
    const lines = state.allEntries().sort((a, b) => Buffer.compare(a.key, b.key)).map((e) => JSON.stringify({ key: e.key.toString('base64'), value: e.value.toString('base64'), lsn: e.lsn }));
    writeFileSync(report.dumpPath, lines.join('\n') + (lines.length > 0 ? '\n' : ''));
  }
  return report;
}
