import { UsageError, type Command, type ParsedOptions } from '../command.js';
import { mqttAuthFlags, mqttLogin, mqttProtocolLevel, mqttSessionFlags } from '../mqtt-flags.js';
import { numberOption, optionalString } from '../parse.js';
import { foreshardVersion } from '../../agent/agent.js';
import { readClusterKeyFile } from '../../agent/cluster-key.js';
import { createLogger } from '../../common/log.js';
import { defaultCoordinatorOptions, type CoordinatorOptions } from '../../coordinator/options.js';
import { startCoordinatorHttp } from '../../coordinator/http.js';
import type { CoordinatorMqttOptions } from '../../coordinator/mqtt-link.js';
import { CoordinatorService, maxTickMs, minTickMs } from '../../coordinator/service.js';
import { checkId, isProtocolError } from '../../protocol/index.js';

const d = defaultCoordinatorOptions;

/** The coordinator's (and operator commands') MQTT settings, from {@link mqttFlagOptions}; the TLS files are read here. */
export function coordinatorMqttOptions(options: ParsedOptions): CoordinatorMqttOptions {
  const url = optionalString(options, 'broker');
  if (url === undefined) throw new UsageError('--broker is required');
  return {
    url,
    protocolVersion: mqttProtocolLevel(options),
    keepaliveS: numberOption(options, 'mqtt-keepalive', 1, 65_535),
    ...mqttLogin(options),
  };
}

/** The MQTT flags of the coordinator and the operator commands. */
export const mqttFlagOptions: Command['options'] = { ...mqttAuthFlags, ...mqttSessionFlags(10) };

function coreOptions(options: ParsedOptions): Partial<CoordinatorOptions> {
  const ms = (name: string): number => numberOption(options, name, 1, 86_400_000);
  const threshold = Number(options['switch-threshold']);
  if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`--switch-threshold must be 0..1, got ${String(options['switch-threshold'])}`);
  return {
    shardCount: numberOption(options, 'shards', 0, 16_384),
    shadowsPerShard: numberOption(options, 'shadows-per-shard', 1, 15),
    switchThreshold: threshold,
    switchConsecutive: numberOption(options, 'switch-consecutive', 1, 1_000),
    switchCooldownMs: ms('switch-cooldown-ms'),
    switchRetryMs: ms('switch-retry-ms'),
    maxSwitchesInFlight: numberOption(options, 'max-switches-in-flight', 1, 100_000),
    stepTimeoutMs: ms('step-timeout-ms'),
    heartbeatTimeoutMs: ms('heartbeat-timeout-ms'),
    preReplicate: options['no-pre-replicate'] !== true,
    rebalance: options['no-rebalance'] !== true,
  };
}

/** `foreshard coordinator`: the one active decision maker of a cluster (DESIGN.md §1, §3). */
export const coordinatorCommand: Command = {
  name: 'coordinator',
  summary: 'run the coordinator: cluster map, switches, failovers, routing table, incidents',
  usage: '--broker <mqtt-url> --cluster-key-file <file> --data-dir <dir> [options]',
  details: [
    'Reads births, wills, scores, metrics and command results under foreshard/v1/<cluster>/; publishes',
    'the retained routing table, signed commands on node/<n>/cmd, incidents on incident/<id>, and its',
    'own birth on coordinator/state (retained, with a will). Answers operator requests (`foreshard',
    'switch`, `pause-automation`, `resume-automation`) on coordinator/cmd. Keeps incidents as JSON under',
    '<data-dir>/incidents/, the failure history in <data-dir>/failure-history.jsonl and the last routing',
    'table it published in <data-dir>/routing.cbor (it starts from it when the broker has lost its copy).',
    'With --shards and no routing table retained, saved or held by the agents, it creates the cluster on',
    'the agents that are online; agents holding replicas rebuild the table instead. Serves GET /metrics',
    'and GET /healthz on --http-port. A restarted coordinator waits out the agents\' command age (5 s)',
    'and reconciles from their reports before it decides anything.',
  ].join('\n'),
  options: {
    broker: { type: 'string', description: 'MQTT broker URL (mqtt://, mqtts://, ws://, wss://)', valueName: '<mqtt-url>' },
    cluster: { type: 'string', description: 'cluster name (the topic root foreshard/v1/<cluster>/)', default: 'default', valueName: '<name>' },
    'cluster-key-file': { type: 'string', description: 'file with the cluster key that signs commands (hex text, >= 32 bytes)', valueName: '<file>' },
    'data-dir': { type: 'string', description: 'directory for incidents, the failure history and the generation', valueName: '<dir>' },
    'http-host': { type: 'string', description: 'address for /metrics and /healthz', default: '127.0.0.1', valueName: '<addr>' },
    'http-port': { type: 'string', description: 'port for /metrics and /healthz (0: any free port)', default: '9480', valueName: '<n>' },
    shards: { type: 'string', description: 'shards to create when the cluster has no routing table yet (0: wait for one)', default: '0', valueName: '<n>' },
    'shadows-per-shard': { type: 'string', description: 'shadows of every shard', default: String(d.shadowsPerShard), valueName: '<n>' },
    'switch-threshold': { type: 'string', description: 'rollback score that counts toward a switch', default: String(d.switchThreshold), valueName: '<p>' },
    'switch-consecutive': { type: 'string', description: 'scores above the threshold in a row that trigger a switch', default: String(d.switchConsecutive), valueName: '<n>' },
    'switch-cooldown-ms': { type: 'string', description: 'how long a shard may not be switched back to a node it left (another healthy shadow may still take it)', default: String(d.switchCooldownMs), valueName: '<ms>' },
    'switch-retry-ms': { type: 'string', description: 'after a switch that found no caught-up shadow and stayed on the same primary, time before the shard may try again (at most the cool-down)', default: String(d.switchRetryMs), valueName: '<ms>' },
    'max-switches-in-flight': { type: 'string', description: 'cluster-wide limit on planned switches in flight', default: String(d.maxSwitchesInFlight), valueName: '<n>' },
    'step-timeout-ms': { type: 'string', description: 'how long one command may take before it is retried', default: String(d.stepTimeoutMs), valueName: '<ms>' },
    'heartbeat-timeout-ms': { type: 'string', description: 'a node silent this long (or for 3 of its sampling intervals, if longer) is suspected dead', default: String(d.heartbeatTimeoutMs), valueName: '<ms>' },
    'tick-ms': { type: 'string', description: `decision tick (${minTickMs}..${maxTickMs})`, default: '200', valueName: '<ms>' },
    'no-pre-replicate': { type: 'boolean', description: 'never add extra shadows for risky nodes', default: false },
    'no-rebalance': { type: 'boolean', description: 'never move replicas to spread load', default: false },
    ...mqttFlagOptions,
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const keyFile = optionalString(options, 'cluster-key-file');
    const dataDir = optionalString(options, 'data-dir');
    if (keyFile === undefined) throw new UsageError('--cluster-key-file is required');
    if (dataDir === undefined) throw new UsageError('--data-dir is required');
    const cluster = String(options.cluster);
    try {
      checkId('cluster id', cluster);
    } catch (error) {
      if (isProtocolError(error)) throw new UsageError(error.message);
      throw error;
    }
    const logger = createLogger('coordinator');
    const service = await CoordinatorService.start({
      cluster, dataDir, clusterKey: readClusterKeyFile(keyFile), mqtt: coordinatorMqttOptions(options), core: coreOptions(options),
      tickMs: numberOption(options, 'tick-ms', minTickMs, maxTickMs), version: foreshardVersion(), logger,
    });
    const http = await startCoordinatorHttp(service, String(options['http-host']), numberOption(options, 'http-port', 0, 65_535));
    logger.info('coordinator serving', { httpUrl: http.url, dataDir, generation: service.generation });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await http.close();
    await service.stop();
    return 0;
  },
};
