import { UsageError, type Command } from '../command.js';
import { operatorOptions, runOperatorRequest } from './operator.js';

/** `foreshard pause-automation`: no automatic switch, pre-replication or rebalance until resumed. */
export const pauseAutomationCommand: Command = {
  name: 'pause-automation',
  summary: 'stop the coordinator from switching, pre-replicating or rebalancing by itself',
  usage: '[--data-dir <dir> | --broker <url> --cluster-key-file <file>]',
  details: 'Failovers of dead primaries and operator switches still run. The paused state survives a coordinator restart (it is in the retained coordinator birth).',
  options: operatorOptions,
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return runOperatorRequest(options, { type: 'pause-automation' });
  },
};

/** `foreshard resume-automation`: the coordinator decides by itself again. */
export const resumeAutomationCommand: Command = {
  name: 'resume-automation',
  summary: 'let the coordinator switch, pre-replicate and rebalance by itself again',
  usage: '[--data-dir <dir> | --broker <url> --cluster-key-file <file>]',
  options: operatorOptions,
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return runOperatorRequest(options, { type: 'resume-automation' });
  },
};
