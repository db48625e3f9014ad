import { existsSync } from 'node:fs';
import { OperatingError, UsageError, type Command } from '../command.js';
import { listConflicts } from '../../store/conflicts.js';

/** `foreshard conflicts`: lists the conflict files of every shard under a data directory. */
export const conflictsCommand: Command = {
  name: 'conflicts',
  summary: 'list conflict files: log records cut at rejoin or rollback',
  usage: '--data-dir <dir> [--json]',
  details: [
    'Lists <data-dir>/shards/<id>/conflicts/*.json: the records a former primary cut from its log',
    'when it rejoined (reason rejoin), or a rollback discarded (reason rollback). Nothing is ever',
    'dropped silently; these files are where it goes. Exit code 1 if a file cannot be read.',
  ].join('\n'),
  options: {
    'data-dir': { type: 'string', description: 'data directory holding shards/<id>/', valueName: '<dir>' },
    json: { type: 'boolean', description: 'print one JSON object', default: false },
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const dataDir = options['data-dir'];
    if (typeof dataDir !== 'string' || dataDir === '') throw new UsageError('--data-dir is required');
    if (!existsSync(dataDir)) throw new OperatingError('NOT_FOUND', `data directory ${dataDir} does not exist`);
    const { conflicts, unreadable } = listConflicts(dataDir);
    if (options['json'] === true) process.stdout.write(JSON.stringify({ conflicts, unreadable }) + '\n');
    else if (conflicts.length === 0) process.stdout.write('no conflict files\n');
    else {
      const rows = conflicts.map((c) => [String(c.shard), String(c.epoch), c.reason, `${c.fromLsn}..${c.toLsn}`, String(c.count), c.createdAt, c.path]);
      const header = ['SHARD', 'EPOCH', 'REASON', 'LSNS', 'COUNT', 'CREATED', 'PATH'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const row of [header, ...rows]) process.stdout.write(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ') + '\n');
    }
    for (const bad of unreadable) process.stderr.write(`foreshard conflicts: cannot read ${bad.path}: ${bad.error}\n`);
    return unreadable.length > 0 ? 1 : 0;
  },
};
