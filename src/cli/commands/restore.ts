import { existsSync } from 'node:fs';
import { OperatingError, UsageError, type Command } from '../command.js';
import { parseRestoreTarget, restoreShard } from '../../store/restore.js';
import { StoreError } from '../../store/errors.js';

/** `foreshard restore`: point-in-time restore of one shard into a new replica directory. */
export const restoreCommand: Command = {
  name: 'restore',
  summary: 'point-in-time restore of a shard from its snapshots and log',
  usage: '--shard <id> --to <iso-time|lsn> --data-dir <dir> --out <dir>',
  details: [
    'Rebuilds the state of shard <id> as of --to (an lsn, or an ISO-8601 time: every write with',
    'ts <= that time) from the newest snapshot at or before it plus the log (hot and cold tiers).',
    'Writes a new replica directory <out>/shards/<id>/ (role fenced: it takes no writes until',
    'promoted) and, with --dump, <out>/shards/<id>/dump.jsonl. The source is only read.',
  ].join('\n'),
  options: {
    shard: { type: 'string', description: 'shard id', valueName: '<id>' },
    to: { type: 'string', description: 'restore point: lsn or ISO-8601 time', valueName: '<iso-time|lsn>' },
    'data-dir': { type: 'string', description: 'data directory holding shards/<id>/', valueName: '<dir>' },
    out: { type: 'string', description: 'directory to write the restored replica to', valueName: '<dir>' },
    dump: { type: 'boolean', description: 'also write dump.jsonl (base64 key, value, lsn per line)', default: false },
    json: { type: 'boolean', description: 'print the report as JSON', default: false },
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    for (const name of ['shard', 'to', 'data-dir', 'out']) {
      if (typeof options[name] !== 'string' || options[name] === '') throw new UsageError(`--${name} is required`);
    }
    const shardText = options['shard'] as string;
    if (!/^\d+$/.test(shardText)) throw new UsageError(`--shard must be a non-negative integer, got ${JSON.stringify(shardText)}`);
    let target;
    try {
      target = parseRestoreTarget(options['to'] as string);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const dataDir = options['data-dir'] as string;
    if (!existsSync(dataDir)) throw new OperatingError('NOT_FOUND', `data directory ${dataDir} does not exist`);
    try {
      const report = restoreShard(dataDir, Number(shardText), target, options['out'] as string, options['dump'] === true);
      if (options['json'] === true) process.stdout.write(JSON.stringify(report) + '\n');
      else {
        process.stdout.write(
          `restored shard ${report.shard} to lsn ${report.lsn} (ts ${report.ts ? new Date(report.ts).toISOString() : '-'}): ` +
            `${report.keys} keys, snapshot lsn ${report.snapshotLsn} + ${report.replayedRecords} log records -> ${report.outShardDir}\n`,
        );
        if (report.dumpPath) process.stdout.write(`dump: ${report.dumpPath}\n`);
        if (report.logProblem) process.stderr.write(`warning: source log is damaged, restored from the records before it: ${report.logProblem}\n`);
      }
      return 0;
    } catch (error) {
      if (error instanceof StoreError) throw new OperatingError(error.code, error.message);
      throw error;
    }
  },
};
