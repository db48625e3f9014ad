/**
 * The agent's one options object (STYLE.md, "Configuration"): every setting with its default,
 * merged once from the command line, validated and clamped at start, then frozen. The firmware
 * profile is loaded separately (src/profiles/) and settles what the host class decides; these are
 * the settings of this process: where it connects, where it listens, and its limits.
 */
import assert from 'node:assert/strict';
import { isValidId } from '../protocol/index.js';
import { AgentError } from './errors.js';

/** The MQTT protocol versions the agent speaks: 4 is MQTT 3.1.1 (the default, DESIGN.md §7), 5 is MQTT 5. */
export type MqttProtocolVersion = 4 | 5;

/** How the agent reaches the broker. */
export interface MqttLinkOptions {
  readonly url: string;
  readonly protocolVersion: MqttProtocolVersion;
  readonly username?: string;
  readonly password?: string;
  /** PEM files for TLS (`mqtts://`): the CA to trust, and the client certificate and key. */
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** MQTT keep-alive [MQTT-3.1.2-24]: the broker publishes the will 1.5 × this after the agent goes silent. */
  readonly keepaliveS: number;
  readonly connectTimeoutMs: number;
  /** Reconnect backoff: the first wait, doubled per failed attempt up to the cap, with ±20% jitter. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** QoS 1 publishes awaiting their PUBACK; past this, new messages wait in the offline buffer. */
  readonly maxInFlightPublishes: number;
  /** While the broker cannot be reached: most messages kept (the latest), and most bytes. */
  readonly offlineBufferMessages: number;
  readonly offlineBufferBytes: number;
}

/** The resolved, frozen options of one agent. */
export interface AgentOptions {
  readonly nodeId: string;
  readonly cluster: string;
  /** A profile name from firmware-profiles/ or a path to a profile file. */
  readonly profile: string;
  readonly dataDir: string;
  readonly mqtt: MqttLinkOptions;
  /** `/metrics` and `/healthz`; port 0 picks a free port (logged at start). */
  readonly httpHost: string;
  readonly httpPort: number;
  /** The data port (WebSocket, DESIGN.md §5.3); port 0 picks a free port. */
  readonly dataHost: string;
  readonly dataPort: number;
  /** The host name other nodes and gateways reach this node's data port by, for the birth's `dataUrl`. */
  readonly advertiseHost: string;
  /** A node_exporter endpoint read in place of /proc. */
  readonly nodeExporterUrl?: string;
  /** The file holding the cluster key that signs coordinator commands. Without it every command is refused. */
  readonly clusterKeyFile?: string;
  /** False runs the agent without forecasting: it samples and publishes metrics, but no scores. */
  readonly prediction: boolean;
  /** Extra synthetic series sampled next to the real ones, for load tests and the benchmark. */
  readonly syntheticSeries: number;
  /** Answers to refused commands (bad signature, stale, replayed) per second; the rest are counted only. */
  readonly maxRefusalAnswersPerS: number;
  /** Accept injected faults (`foreshard chaos`, POST /chaos); off, every fault is refused 403. For demos and tests only. */
  readonly allowChaos: boolean;
}

/** Named limits of the agent options (README, "Limits"). */
export const AGENT_LIMITS = Object.freeze({
  /** Most offline-buffered messages allowed by an option. */
  offlineBufferMessagesMax: 10_000,
  /** Most offline-buffered bytes allowed by an option: 256 MiB. */
  offlineBufferBytesMax: 256 * 1024 * 1024,
  /** Most synthetic series: the metrics payload holds at most 512 series, and the real ones need room. */
  syntheticSeriesMax: 480,
  maxInFlightPublishesMax: 65_535,
  reconnectMaxMsMax: 300_000,
});

/** The defaults of every option that has one. */
export const AGENT_DEFAULTS = Object.freeze({
  cluster: 'default',
  httpHost: '0.0.0.0',
  httpPort: 9470,
  dataHost: '0.0.0.0',
  dataPort: 7470,
  protocolVersion: 4 as MqttProtocolVersion,
  keepaliveS: 10,
  connectTimeoutMs: 10_000,
  reconnectMinMs: 250,
  reconnectMaxMs: 30_000,
  maxInFlightPublishes: 64,
  offlineBufferMessages: 120,
  offlineBufferBytes: 8 * 1024 * 1024,
  prediction: true,
  syntheticSeries: 0,
  maxRefusalAnswersPerS: 10,
  allowChaos: false,
});

/** What a caller gives: the required settings and any overrides; everything else takes its default. */
export interface AgentOptionsInput {
  nodeId: string;
  cluster?: string;
  profile: string;
  dataDir: string;
  brokerUrl: string;
  advertiseHost: string;
  mqtt?: Partial<Omit<MqttLinkOptions, 'url'>>;
  httpHost?: string;
  httpPort?: number;
  dataHost?: string;
  dataPort?: number;
  nodeExporterUrl?: string;
  clusterKeyFile?: string;
  prediction?: boolean;
  syntheticSeries?: number;
  maxRefusalAnswersPerS?: number;
  allowChaos?: boolean;
}

const brokerUrlPattern = /^(mqtt|mqtts|tcp|tls|ws|wss):\/\/[^\s/]+/;

/**
 * Merges `input` over the defaults, checks every setting and returns the frozen result. Throws an
 * `AGENT_BAD_OPTION` {@link AgentError} that lists every problem at once.
 */
export function resolveAgentOptions(input: AgentOptionsInput): AgentOptions {
  const d = AGENT_DEFAULTS;
  const m = input.mqtt ?? {};
  const mqtt: MqttLinkOptions = {
    url: input.brokerUrl,
    protocolVersion: m.protocolVersion ?? d.protocolVersion,
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(m.password !== undefined ? { password: m.password } : {}),
    ...(m.caFile !== undefined ? { caFile: m.caFile } : {}),
    ...(m.certFile !== undefined ? { certFile: m.certFile } : {}),
    ...(m.keyFile !== undefined ? { keyFile: m.keyFile } : {}),
    keepaliveS: m.keepaliveS ?? d.keepaliveS,
    connectTimeoutMs: m.connectTimeoutMs ?? d.connectTimeoutMs,
    reconnectMinMs: m.reconnectMinMs ?? d.reconnectMinMs,
    reconnectMaxMs: m.reconnectMaxMs ?? d.reconnectMaxMs,
    maxInFlightPublishes: m.maxInFlightPublishes ?? d.maxInFlightPublishes,
    offlineBufferMessages: m.offlineBufferMessages ?? d.offlineBufferMessages,
    offlineBufferBytes: m.offlineBufferBytes ?? d.offlineBufferBytes,
  };
  const options: AgentOptions = {
    nodeId: input.nodeId,
    cluster: input.cluster ?? d.cluster,
    profile: input.profile,
    dataDir: input.dataDir,
    mqtt,
    httpHost: input.httpHost ?? d.httpHost,
    httpPort: input.httpPort ?? d.httpPort,
    dataHost: input.dataHost ?? d.dataHost,
    dataPort: input.dataPort ?? d.dataPort,
    advertiseHost: input.advertiseHost,
    ...(input.nodeExporterUrl !== undefined ? { nodeExporterUrl: input.nodeExporterUrl } : {}),
    ...(input.clusterKeyFile !== undefined ? { clusterKeyFile: input.clusterKeyFile } : {}),
    prediction: input.prediction ?? d.prediction,
    syntheticSeries: input.syntheticSeries ?? d.syntheticSeries,
    maxRefusalAnswersPerS: input.maxRefusalAnswersPerS ?? d.maxRefusalAnswersPerS,
    allowChaos: input.allowChaos ?? d.allowChaos,
  };
  const problems = optionProblems(options);
  if (problems.length > 0) throw new AgentError('AGENT_BAD_OPTION', `invalid agent options:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  const clamped = { ...options, mqtt: { ...mqtt, reconnectMinMs: Math.min(mqtt.reconnectMinMs, mqtt.reconnectMaxMs) } };
  assert.ok(clamped.mqtt.reconnectMinMs <= clamped.mqtt.reconnectMaxMs, 'reconnect backoff bounds inverted after clamping');
  Object.freeze(clamped.mqtt);
  return Object.freeze(clamped);
}

function intIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** Every problem with `options`, one sentence each, naming the command-line flag. */
function optionProblems(options: AgentOptions): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };
  const { mqtt } = options;
  const L = AGENT_LIMITS;
  check(isValidId(options.nodeId), `--node-id ${JSON.stringify(options.nodeId)} must be 1..64 of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
  check(isValidId(options.cluster), `--cluster ${JSON.stringify(options.cluster)} must be 1..64 of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
  check(options.profile.length > 0, '--profile is required');
  check(options.dataDir.length > 0, '--data-dir is required');
  check(brokerUrlPattern.test(mqtt.url), `--broker ${JSON.stringify(mqtt.url)} must be a URL such as mqtt://host:1883 or mqtts://host:8883`);
  check(mqtt.protocolVersion === 4 || mqtt.protocolVersion === 5, '--mqtt-protocol must be 3.1.1 or 5');
  check(intIn(mqtt.keepaliveS, 1, 3600), '--mqtt-keepalive must be 1..3600 seconds');
  check(intIn(mqtt.connectTimeoutMs, 100, 600_000), 'the MQTT connect timeout must be 100..600000 ms');
  check(intIn(mqtt.reconnectMinMs, 10, L.reconnectMaxMsMax), `the first reconnect wait must be 10..${L.reconnectMaxMsMax} ms`);
  check(intIn(mqtt.reconnectMaxMs, 10, L.reconnectMaxMsMax), `--mqtt-reconnect-max-ms must be 10..${L.reconnectMaxMsMax}`);
  check(intIn(mqtt.maxInFlightPublishes, 1, L.maxInFlightPublishesMax), `the in-flight publish limit must be 1..${L.maxInFlightPublishesMax}`);
  check(intIn(mqtt.offlineBufferMessages, 1, L.offlineBufferMessagesMax), `--offline-buffer-messages must be 1..${L.offlineBufferMessagesMax}`);
  check(intIn(mqtt.offlineBufferBytes, 64 * 1024, L.offlineBufferBytesMax), `--offline-buffer-bytes must be ${64 * 1024}..${L.offlineBufferBytesMax}`);
  check((mqtt.certFile === undefined) === (mqtt.keyFile === undefined), '--mqtt-cert and --mqtt-key go together');
  check(intIn(options.httpPort, 0, 65535), '--http-port must be 0..65535');
  check(intIn(options.dataPort, 0, 65535), '--data-port must be 0..65535');
  check(/^[A-Za-z0-9.:[\]-]+$/.test(options.advertiseHost), `--advertise-host ${JSON.stringify(options.advertiseHost)} must be a host name or address`);
  check(options.nodeExporterUrl === undefined || /^https?:\/\/\S+$/.test(options.nodeExporterUrl), '--node-exporter must be an http:// or https:// URL');
  check(intIn(options.syntheticSeries, 0, L.syntheticSeriesMax), `--synthetic-series must be 0..${L.syntheticSeriesMax}`);
  check(intIn(options.maxRefusalAnswersPerS, 0, 10_000), 'the refusal answer rate must be 0..10000 per second');
  return problems;
}
