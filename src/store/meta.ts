/** `meta.json` of a replica: its role and the highest epoch it has seen, kept durable so fencing survives restarts. */
import { existsSync, readFileSync } from 'node:fs';
import { StoreError } from './errors.js';
import { writeFileAtomic } from './files.js';
import type { ReplicaRole } from './options.js';

export interface ReplicaMeta {
  format: 'foreshard-replica/1';
  shard: number;
  role: ReplicaRole;
  epoch: number;
}

/** Reads meta.json, or undefined for a new replica. */
export function readMeta(path: string): ReplicaMeta | undefined {
  if (!existsSync(path)) return undefined;
  const meta = JSON.parse(readFileSync(path, 'utf8')) as ReplicaMeta;
  if (meta.format !== 'foreshard-replica/1' || !['primary', 'shadow', 'fenced'].includes(meta.role) || !Number.isSafeInteger(meta.epoch)) {
    throw new StoreError('LOG_CORRUPT', `${path} is not a foreshard replica meta file`, { path });
  }
  return meta;
}

/** Writes meta.json atomically. */
export function writeMeta(path: string, meta: ReplicaMeta): void {
  writeFileAtomic(path, [Buffer.from(JSON.stringify(meta) + '\n')]);
}
