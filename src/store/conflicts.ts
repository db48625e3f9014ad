/**
 * Conflict files: records a replica cut from its log so that they are never silently dropped.
 * A former primary that rejoins writes the part of its log past its successor's received lsn here
 * (reason `rejoin`); a rollback to time T writes the discarded unapplied tail (reason `rollback`).
 * Format (JSON, one object): see docs/store-format.md. Bytes are base64.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDirectory, writeFileAtomic } from './files.js';
import type { LogRecord } from './record.js';

export const CONFLICT_FORMAT = 'foreshard-conflict/1';

export type ConflictReason = 'rejoin' | 'rollback' | 'resync';

/** One conflict file as listed by `foreshard conflicts`. */
export interface ConflictSummary {
  shard: number;
  epoch: number;
  reason: string;
  createdAt: string;
  fromLsn: number;
  toLsn: number;
  count: number;
  path: string;
}

interface ConflictRecordJson {
  lsn: number;
  epoch: number;
  ts: number;
  op: 'put' | 'del';
  key: string;
  value?: string;
  delta?: string;
  baseLsn?: number;
}

/** Writes `records` (non-empty, lsn order) to `<dir>/<timestamp>-epoch<e>.json` atomically; returns the path. */
export function writeConflictFile(dir: string, shard: number, reason: ConflictReason, records: readonly LogRecord[], nowMs: number): string {
  ensureDirectory(dir);
  const epoch = Math.max(...records.map((r) => r.epoch));
  const createdAt = new Date(nowMs).toISOString();
  const stamp = createdAt.replace(/[-:]/g, '').replace('.', '');
  let path = join(dir, `${stamp}-epoch${epoch}.json`);
  for (let n = 2; existsSync(path); n++) path = join(dir, `${stamp}-epoch${epoch}-${n}.json`);
  const body = {
    format: CONFLICT_FORMAT,
    shard,
    epoch,
    reason,
    createdAt,
    fromLsn: records[0]!.lsn,
    toLsn: records.at(-1)!.lsn,
    count: records.length,
    records: records.map(recordToJson),
  };
  writeFileAtomic(path, [Buffer.from(JSON.stringify(body, null, 1) + '\n')]);
  return path;
}

function recordToJson(record: LogRecord): ConflictRecordJson {
  const json: ConflictRecordJson = { lsn: record.lsn, epoch: record.epoch, ts: record.ts, op: record.op, key: record.key.toString('base64') };
  if (record.value) json.value = record.value.toString('base64');
  if (record.delta) {
    json.delta = record.delta.toString('base64');
    json.baseLsn = record.baseLsn!;
  }
  return json;
}

/** Reads the records of a conflict file back (for tools that re-apply them by hand). */
export function readConflictRecords(path: string): { summary: ConflictSummary; records: LogRecord[] } {
  const body = JSON.parse(readFileSync(path, 'utf8')) as Omit<ConflictSummary, 'path'> & { format: string; records: ConflictRecordJson[] };
  const records = body.records.map((r) => {
    const record: LogRecord = { lsn: r.lsn, epoch: r.epoch, ts: r.ts, arrivalTs: r.ts, op: r.op, key: Buffer.from(r.key, 'base64') };
    if (r.value !== undefined) record.value = Buffer.from(r.value, 'base64');
    if (r.delta !== undefined) {
      record.delta = Buffer.from(r.delta, 'base64');
      record.baseLsn = r.baseLsn!;
    }
    return record;
  });
  const { shard, epoch, reason, createdAt, fromLsn, toLsn, count } = body;
  return { summary: { shard, epoch, reason, createdAt, fromLsn, toLsn, count, path }, records };
}

/** Every conflict file under `<dataDir>/shards/<id>/conflicts/`, oldest first per shard. Unreadable files are reported, not hidden. */
export function listConflicts(dataDir: string): { conflicts: ConflictSummary[]; unreadable: { path: string; error: string }[] } {
  const conflicts: ConflictSummary[] = [];
  const unreadable: { path: string; error: string }[] = [];
  const shardsDir = join(dataDir, 'shards');
  const shardNames = existsSync(shardsDir) ? readdirSync(shardsDir).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b)) : [];
  for (const shardName of shardNames) {
    const dir = join(shardsDir, shardName, 'conflicts');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      const path = join(dir, name);
      try {
        const { summary } = readConflictRecords(path);
        conflicts.push(summary);
      } catch (error) {
        unreadable.push({ path, error: (error as Error).message });
      }
    }
  }
  return { conflicts, unreadable };
}
