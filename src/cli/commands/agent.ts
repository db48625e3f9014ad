import { hostname } from 'node:os';
import { OperatingError, UsageError, type Command, type ParsedOptions } from '../command.js';
import { mqttAuthFlags, mqttCredentials, mqttProtocolLevel, mqttSessionFlags, mqttTlsFiles } from '../mqtt-flags.js';
import { numberOption, optionalString } from '../parse.js';
import { startAgent } from '../../agent/agent.js';
import { AGENT_DEFAULTS, resolveAgentOptions, type AgentOptionsInput } from '../../agent/options.js';
import { startHeapTrim } from '../../agent/heap-trim.js';
import { pageOutFamilies, schedulePageOut, type PageOutState } from '../../agent/page-out.js';
import { openReplicationHost } from '../../agent/replication-host.js';
import { createLogger } from '../../common/log.js';
import { readClusterKeyFile } from '../../agent/cluster-key.js';
import { loadProfile } from '../../profiles/index.js';
import { agentUnit, agentUnitArguments, agentUnitOptions } from '../agent-unit.js';

const d = AGENT_DEFAULTS;

function required(options: ParsedOptions, name: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

function agentInput(options: ParsedOptions): AgentOptionsInput {
  const nodeExporterUrl = optionalString(options, 'node-exporter');
  const clusterKeyFile = optionalString(options, 'cluster-key-file');
  const ca = optionalString(options, 'mqtt-ca');
  const cert = optionalString(options, 'mqtt-cert');
  const key = optionalString(options, 'mqtt-key');
  return {
    brokerUrl: required(options, 'broker'),
    nodeId: required(options, 'node-id'),
    cluster: String(options.cluster),
    profile: required(options, 'profile'),
    dataDir: required(options, 'data-dir'),
    httpHost: String(options['http-host']),
    httpPort: numberOption(options, 'http-port', 0, 65535),
    dataHost: String(options['data-host']),
    dataPort: numberOption(options, 'data-port', 0, 65535),
    advertiseHost: String(options['advertise-host']),
    ...(nodeExporterUrl !== undefined ? { nodeExporterUrl } : {}),
    ...(clusterKeyFile !== undefined ? { clusterKeyFile } : {}),
    prediction: options['no-prediction'] !== true,
    allowChaos: options['allow-chaos'] === true,
    syntheticSeries: numberOption(options, 'synthetic-series', 0, Number.MAX_SAFE_INTEGER),
    mqtt: {
      protocolVersion: mqttProtocolLevel(options),
      ...mqttCredentials(options),
      ...(ca !== undefined ? { caFile: ca } : {}),
      ...(cert !== undefined ? { certFile: cert } : {}),
      ...(key !== undefined ? { keyFile: key } : {}),
      keepaliveS: numberOption(options, 'mqtt-keepalive', 0, Number.MAX_SAFE_INTEGER),
      reconnectMaxMs: numberOption(options, 'mqtt-reconnect-max-ms', 0, Number.MAX_SAFE_INTEGER),
      offlineBufferMessages: numberOption(options, 'offline-buffer-messages', 0, Number.MAX_SAFE_INTEGER),
      offlineBufferBytes: numberOption(options, 'offline-buffer-bytes', 0, Number.MAX_SAFE_INTEGER),
    },
  };
}

/**
 * What the agent would refuse at start, checked before a unit is printed, so that a mistake shows
 * now and not as a unit restarting every 2 s: the profile, the cluster key, the TLS files.
 */
async function checkFilesForUnit(profile: string, options: ParsedOptions): Promise<void> {
  await loadProfile(profile);
  const keyFile = optionalString(options, 'cluster-key-file');
  if (keyFile !== undefined) readClusterKeyFile(keyFile);
  try {
    mqttTlsFiles(options);
  } catch (error) {
    // Here the files are part of the command line being checked, and nothing has run: a usage error.
    if (error instanceof OperatingError) throw new UsageError(error.message);
    throw error;
  }
}

/** `foreshard agent`: the process on every storage host (DESIGN.md §1). */
export const agentCommand: Command = {
  name: 'agent',
  summary: 'run a storage host: shard replicas, metrics, forecasts and scores over MQTT',
  usage: '--broker <mqtt-url> --node-id <id> --profile <name|path> --data-dir <dir> [options]',
  details: [
    'Publishes under foreshard/v1/<cluster>/node/<node-id>/: state (birth, retained; the will marks it',
    'offline), metrics and score every sample interval of the profile, and cmd-result for each command',
    'received on cmd. Serves GET /metrics (Prometheus text) and GET /healthz (JSON, 200 or 503) on',
    '--http-port, and the data port (WebSocket) on --data-port.',
    'The MQTT password comes from --mqtt-password-file or the FORESHARD_MQTT_PASSWORD variable.',
    'The cluster key file holds at least 32 bytes, as hex text (`openssl rand -hex 32`) or raw bytes;',
    'without it every command is refused. An invalid profile is refused at start with every problem listed.',
    'With --print-unit it starts nothing: it checks the options, the profile and the files they name, and',
    'prints a systemd unit that runs this agent with them (paths made absolute; the password only as its',
    'file) and with the start-up setting --v8-pool-size=1.',
    'Three seconds after start the agent pages out its start-up code once (madvise MADV_PAGEOUT on its',
    'read-only file mappings, through build/native/page-out.node, which npm install compiles when there is',
    'a C compiler); what it still runs comes back as it runs. --no-page-out keeps the pages resident.',
  ].join('\n'),
  options: {
    broker: { type: 'string', description: 'MQTT broker URL (mqtt://, mqtts://, ws://, wss://)', valueName: '<mqtt-url>' },
    'node-id': { type: 'string', description: 'this node\'s id, unique in the cluster', valueName: '<id>' },
    cluster: { type: 'string', description: 'cluster name (the topic root foreshard/v1/<cluster>/)', default: d.cluster, valueName: '<name>' },
    profile: { type: 'string', description: 'firmware profile: a name in firmware-profiles/ or a path', valueName: '<name|path>' },
    'data-dir': { type: 'string', description: 'directory for this node\'s shard replicas', valueName: '<dir>' },
    'http-host': { type: 'string', description: 'address for /metrics and /healthz', default: d.httpHost, valueName: '<addr>' },
    'http-port': { type: 'string', description: 'port for /metrics and /healthz (0: any free port)', default: String(d.httpPort), valueName: '<n>' },
    'data-host': { type: 'string', description: 'address for the data port', default: d.dataHost, valueName: '<addr>' },
    'data-port': { type: 'string', description: 'data port for gateways and shadows (0: any free port)', default: String(d.dataPort), valueName: '<n>' },
    'advertise-host': { type: 'string', description: 'host name others reach the data port by (in the birth\'s dataUrl)', default: hostname(), valueName: '<host>' },
    'node-exporter': { type: 'string', description: 'read host metrics from this node_exporter instead of /proc', valueName: '<url>' },
    'cluster-key-file': { type: 'string', description: 'file with the cluster key that signs coordinator commands', valueName: '<file>' },
    ...mqttAuthFlags,
    ...mqttSessionFlags(d.keepaliveS),
    'mqtt-reconnect-max-ms': { type: 'string', description: 'longest wait between reconnect attempts (backoff from 250 ms)', default: String(d.reconnectMaxMs), valueName: '<ms>' },
    'offline-buffer-messages': { type: 'string', description: 'latest messages kept while the broker is unreachable', default: String(d.offlineBufferMessages), valueName: '<n>' },
    'offline-buffer-bytes': { type: 'string', description: 'bytes kept while the broker is unreachable', default: String(d.offlineBufferBytes), valueName: '<n>' },
    'no-prediction': { type: 'boolean', description: 'sample and publish metrics, but no forecasts or scores', default: false },
    'synthetic-series': { type: 'string', description: 'extra synthetic series to sample, for load tests', default: String(d.syntheticSeries), valueName: '<n>' },
    'no-page-out': { type: 'boolean', description: 'keep the start-up code resident (by default it is paged out once, 3 s after start)', default: false },
    'allow-chaos': { type: 'boolean', description: 'accept injected faults (foreshard chaos, POST /chaos); for demos and tests, never production', default: d.allowChaos },
    ...agentUnitOptions,
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const agentOptions = resolveAgentOptions(agentInput(options));
    if (options['print-unit'] === true) {
      await checkFilesForUnit(agentOptions.profile, options);
      process.stdout.write(agentUnit(agentUnitArguments(agentCommand.options, options), options));
      return 0;
    }
    if (options['unit-user'] !== undefined) throw new UsageError('--unit-user goes with --print-unit');
    const logger = createLogger('agent');
    let pageOut: ReturnType<typeof schedulePageOut> | undefined;
    const pageOutState = (): PageOutState => pageOut?.state() ?? { status: 'off', releasedBytes: 0 };
    const agent = await startAgent(agentOptions, openReplicationHost, logger, () => pageOutFamilies(pageOutState()));
    // The process's own memory, beside the agent: a major GC every 10 s keeps the heap near its live
    // size (src/agent/heap-trim.ts), and the start-up code is paged out once, 3 s from now
    // (src/agent/page-out.ts).
    const stopHeapTrim = startHeapTrim();
    if (options['no-page-out'] !== true) pageOut = schedulePageOut((message, fields) => logger.info(message, fields));
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    stopHeapTrim();
    pageOut?.cancel();
    await agent.stop();
    return 0;
  },
};
