import { OperatingError, UsageError, type Command } from '../command.js';
import { mqttAuthFlags, mqttLogin, mqttProtocolLevel, mqttSessionFlags } from '../mqtt-flags.js';
import { numberOption, readFlagFile } from '../parse.js';
import type { ParsedOptions } from '../command.js';
import { GATEWAY_DEFAULTS, startGateway } from '../../gateway/index.js';
import { loadTokenKey } from '../../gateway/auth.js';
import { createLogger } from '../../common/log.js';

const d = GATEWAY_DEFAULTS;

/** A whole-number option in [min, max]; a usage error otherwise. */
function intOption(options: ParsedOptions, name: string, min: number, max: number): number {
  const value = numberOption(options, name, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`--${name} must be a whole number, got ${value}`);
  return value;
}

/** `foreshard gateway`: the client WebSocket gateway (DESIGN.md §5.1). */
export const gatewayCommand: Command = {
  name: 'gateway',
  summary: 'run the client WebSocket gateway (/v1, /metrics, /healthz) in front of the agents',
  usage: '[--port <n>] [--broker <url>] [--cluster <id>] [--token-key-file <f>]',
  details: [
    'Routes each key to its shard primary (FNV-1a 32 of the key bytes mod the shard count) by the',
    'retained routing table on the broker, and holds a shard\'s requests while it switches.',
    'With --token-key-file, clients need a token from `foreshard token create` with the same key.',
    'With --tls-cert and --tls-key, it serves wss:// (uWS SSLApp).',
  ].join('\n'),
  options: {
    port: { type: 'string', description: 'port for /v1, /metrics and /healthz', default: String(d.port), valueName: '<n>' },
    host: { type: 'string', description: 'address to listen on', default: d.host, valueName: '<addr>' },
    broker: { type: 'string', description: 'MQTT broker URL', default: d.brokerUrl, valueName: '<url>' },
    ...mqttAuthFlags,
    ...mqttSessionFlags(d.brokerKeepaliveS),
    cluster: { type: 'string', description: 'cluster id', default: d.cluster, valueName: '<id>' },
    instance: { type: 'string', description: 'this gateway\'s name (MQTT client id, data port hello)', default: d.instance, valueName: '<id>' },
    'token-key-file': { type: 'string', description: 'client token key (hex or raw, >= 32 bytes); without it auth is off', valueName: '<f>' },
    'data-port-token-file': { type: 'string', description: 'bearer token to present to agents\' data ports', valueName: '<f>' },
    'tls-cert': { type: 'string', description: 'TLS certificate (PEM) for wss://', valueName: '<f>' },
    'tls-key': { type: 'string', description: 'TLS private key (PEM) for wss://', valueName: '<f>' },
    'max-key-bytes': { type: 'string', description: 'longest key', default: String(d.limits.maxKeyBytes), valueName: '<n>' },
    'max-value-bytes': { type: 'string', description: 'largest value', default: String(d.limits.maxValueBytes), valueName: '<n>' },
    'max-in-flight': { type: 'string', description: 'requests in flight per connection', default: String(d.limits.maxInFlight), valueName: '<n>' },
    'max-pause-ms': { type: 'string', description: 'longest a request waits for a switching shard', default: String(d.maxPauseMs), valueName: '<ms>' },
    'max-buffered-ops': { type: 'string', description: 'requests held per switching shard', default: String(d.maxBufferedOps), valueName: '<n>' },
    'max-buffered-bytes': { type: 'string', description: 'key+value bytes held per switching shard', default: String(d.maxBufferedBytes), valueName: '<n>' },
    'retry-after-ms': { type: 'string', description: 'retryAfterMs hint sent with UNAVAILABLE', default: String(d.retryAfterMs), valueName: '<ms>' },
    'request-timeout-ms': { type: 'string', description: 'longest wait for an agent\'s answer (then TIMEOUT)', default: String(d.requestTimeoutMs), valueName: '<ms>' },
    'max-connections': { type: 'string', description: 'client connections at once', default: String(d.maxConnections), valueName: '<n>' },
    'drain-timeout-ms': { type: 'string', description: 'a client not reading for this long is closed', default: String(d.drainTimeoutMs), valueName: '<ms>' },
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if ((typeof options['tls-cert'] === 'string') !== (typeof options['tls-key'] === 'string')) throw new UsageError('--tls-cert and --tls-key go together');
    const logger = createLogger('gateway');
    let tokenKey: Uint8Array | undefined;
    try {
      tokenKey = typeof options['token-key-file'] === 'string' ? loadTokenKey(options['token-key-file']) : undefined;
    } catch (error) {
      throw new OperatingError('BAD_KEY', (error as Error).message);
    }
    const brokerLogin = mqttLogin(options);
    const dataPortToken = readFlagFile(options, 'data-port-token-file')?.toString('utf8').trim();
    const gateway = await startGateway({
      host: String(options.host), port: intOption(options, 'port', 0, 65535),
      brokerUrl: String(options.broker), cluster: String(options.cluster), instance: String(options.instance),
      brokerLogin, brokerProtocolVersion: mqttProtocolLevel(options), brokerKeepaliveS: intOption(options, 'mqtt-keepalive', 1, 65_535),
      ...(tokenKey === undefined ? {} : { tokenKey }),
      ...(dataPortToken === undefined ? {} : { dataPortToken }),
      ...(typeof options['tls-cert'] === 'string' ? { tlsCertFile: options['tls-cert'], tlsKeyFile: String(options['tls-key']) } : {}),
      limits: {
        maxKeyBytes: intOption(options, 'max-key-bytes', 1, 65_536),
        maxValueBytes: intOption(options, 'max-value-bytes', 0, 64 * 1024 * 1024),
        maxInFlight: intOption(options, 'max-in-flight', 1, 1_000_000),
      },
      maxPauseMs: intOption(options, 'max-pause-ms', 1, 600_000),
      maxBufferedOps: intOption(options, 'max-buffered-ops', 1, 10_000_000),
      maxBufferedBytes: intOption(options, 'max-buffered-bytes', 1, 2 ** 40),
      retryAfterMs: intOption(options, 'retry-after-ms', 0, 600_000),
      requestTimeoutMs: intOption(options, 'request-timeout-ms', 1, 600_000),
      maxConnections: intOption(options, 'max-connections', 1, 10_000_000),
      drainTimeoutMs: intOption(options, 'drain-timeout-ms', 1, 600_000),
      logger,
    });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await gateway.close();
    return 0;
  },
};
