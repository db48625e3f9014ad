import { UsageError, type Command } from '../command.js';
import { operatorOptions, runOperatorRequest } from './operator.js';

/** `foreshard switch <shard> [--to <node>]`: a planned switch now (DESIGN.md §3), by the coordinator. */
export const switchCommand: Command = {
  name: 'switch',
  summary: 'switch a shard to a shadow now (planned switch by the coordinator)',
  usage: '<shard> [--to <node>] [--data-dir <dir> | --broker <url> --cluster-key-file <file>]',
  details: [
    'Sends a signed request on coordinator/cmd and prints the coordinator\'s answer on one line: the',
    'switch started (with its incident id), or why it was refused (UNKNOWN_SHARD, SHARD_BUSY, NO_TARGET,',
    'UNKNOWN_NODE, NOT_READY). The switch itself goes on in the coordinator; `foreshard incidents` shows',
    'how it ended. Exit 0 when it started, 1 otherwise.',
  ].join('\n'),
  options: {
    to: { type: 'string', description: 'the shadow to switch to (default: the healthiest caught-up one)', valueName: '<node>' },
    ...operatorOptions,
  },
  async run(positionals, options) {
    if (positionals.length !== 1) throw new UsageError('give exactly one shard id');
    const shard = Number(positionals[0]);
    if (!Number.isSafeInteger(shard) || shard < 0) throw new UsageError(`shard must be a non-negative integer, got ${JSON.stringify(positionals[0])}`);
    const to = typeof options.to === 'string' && options.to !== '' ? options.to : undefined;
    return runOperatorRequest(options, { type: 'switch', shard, ...(to === undefined ? {} : { toNode: to }) });
  },
};
