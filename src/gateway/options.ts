/**
 * The gateway's one options object (STYLE.md "Configuration"): defaults merged once, validated and
 * clamped at start, then frozen. Every limit here is enforced where data enters and is listed in
 * the README's limits table.
 */
import assert from 'node:assert/strict';
import { DEFAULT_CLIENT_LIMITS, MIN_KEY_BYTES, resolveClientLimits, type ClientLimits } from '../protocol/index.js';
import type { Logger } from '../common/log.js';
import type { MqttLogin } from '../common/mqtt-login.js';

/** Options of `foreshard gateway` (and of {@link startGateway}). */
export interface GatewayOptions {
  /** Address to listen on. */
  host: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** MQTT broker URL (the routing table comes from its retained `routing` topic). */
  brokerUrl: string;
  /** MQTT user name, password and TLS files, when the broker wants them. */
  brokerLogin?: MqttLogin;
  /** MQTT protocol level: 4 (3.1.1) or 5. */
  brokerProtocolVersion: 4 | 5;
  /** MQTT keep-alive, in seconds. */
  brokerKeepaliveS: number;
  /** Cluster id (topic root `foreshard/v1/<cluster>/`). */
  cluster: string;
  /** This gateway's name: its MQTT client id and its `node` in data port `hello` frames. */
  instance: string;
  /** HMAC key for client bearer tokens; without it, client auth is off. */
  tokenKey?: Uint8Array;
  /** Bearer token this gateway presents to agents' data ports (when their auth is on). */
  dataPortToken?: string;
  /** TLS certificate and key files (PEM); with both, the gateway serves wss:// through uWS SSLApp. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Key, value and in-flight limits of §5.1. */
  limits: ClientLimits;
  /** Longest a request waits in a paused shard's buffer before it gets UNAVAILABLE. */
  maxPauseMs: number;
  /** Most requests held per paused shard; the next one gets UNAVAILABLE at once. */
  maxBufferedOps: number;
  /** Most key and value bytes held per paused shard. */
  maxBufferedBytes: number;
  /** The `retryAfterMs` hint sent with UNAVAILABLE. */
  retryAfterMs: number;
  /** Longest the gateway waits for an agent's answer before TIMEOUT. */
  requestTimeoutMs: number;
  /** Longest a data port connection may take to open (connect + hello/welcome). */
  connectTimeoutMs: number;
  /** Most requests in flight on one data port connection; past it, UNAVAILABLE. */
  maxUpstreamInFlight: number;
  /** Most client connections at once; past it, the upgrade is refused with 503. */
  maxConnections: number;
  /** A client socket that stays backpressured this long is closed (it is not reading). */
  drainTimeoutMs: number;
  /** Most response bytes queued for one client connection; past it, the connection is closed. */
  maxConnectionQueueBytes: number;
  /** uWS per-socket send buffer: above this, responses wait in the connection's own queue. */
  socketHighWaterBytes: number;
  /** Longest the gateway waits for a newer routing table after MOVED before answering UNAVAILABLE. */
  routingRefreshTimeoutMs: number;
  /** Client idle timeout in seconds (uWS, with automatic pings); 0 disables it. */
  idleTimeoutS: number;
  logger?: Logger;
}

/** Defaults of {@link GatewayOptions}. */
export const GATEWAY_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 7700,
  brokerUrl: 'mqtt://127.0.0.1:1883',
  brokerProtocolVersion: 4,
  brokerKeepaliveS: 10,
  cluster: 'default',
  instance: 'gateway',
  limits: DEFAULT_CLIENT_LIMITS,
  maxPauseMs: 5_000,
  maxBufferedOps: 10_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  retryAfterMs: 500,
  requestTimeoutMs: 5_000,
  connectTimeoutMs: 3_000,
  maxUpstreamInFlight: 65_536,
  maxConnections: 10_000,
  drainTimeoutMs: 10_000,
  maxConnectionQueueBytes: 64 * 1024 * 1024,
  socketHighWaterBytes: 1024 * 1024,
  routingRefreshTimeoutMs: 1_000,
  idleTimeoutS: 120,
} satisfies Partial<GatewayOptions>);

/** Frozen, validated gateway options. */
export type ResolvedGatewayOptions = Readonly<GatewayOptions>;

function checkInteger(name: string, value: number, min: number, max: number): void {
  assert(Number.isSafeInteger(value) && value >= min && value <= max, `gateway option ${name} must be an integer ${min}..${max}, got ${value}`);
}

/**
 * Merges `overrides` into {@link GATEWAY_DEFAULTS}, checks every field and freezes the result. A
 * bad value is a configuration bug (the CLI checks user input first), so it fails an assertion.
 */
export function resolveGatewayOptions(overrides: Partial<GatewayOptions> = {}): ResolvedGatewayOptions {
  const options: GatewayOptions = { ...GATEWAY_DEFAULTS, ...overrides, limits: resolveClientLimits(overrides.limits ?? GATEWAY_DEFAULTS.limits) };
  checkInteger('port', options.port, 0, 65_535);
  assert(options.brokerProtocolVersion === 4 || options.brokerProtocolVersion === 5, `gateway option brokerProtocolVersion must be 4 or 5, got ${String(options.brokerProtocolVersion)}`);
  checkInteger('brokerKeepaliveS', options.brokerKeepaliveS, 1, 65_535);
  checkInteger('maxPauseMs', options.maxPauseMs, 1, 600_000);
  checkInteger('maxBufferedOps', options.maxBufferedOps, 1, 10_000_000);
  checkInteger('maxBufferedBytes', options.maxBufferedBytes, 1, 2 ** 40);
  checkInteger('retryAfterMs', options.retryAfterMs, 0, 600_000);
  checkInteger('requestTimeoutMs', options.requestTimeoutMs, 1, 600_000);
  checkInteger('connectTimeoutMs', options.connectTimeoutMs, 1, 600_000);
  checkInteger('maxUpstreamInFlight', options.maxUpstreamInFlight, 1, 10_000_000);
  checkInteger('maxConnections', options.maxConnections, 1, 10_000_000);
  checkInteger('drainTimeoutMs', options.drainTimeoutMs, 1, 600_000);
  checkInteger('maxConnectionQueueBytes', options.maxConnectionQueueBytes, 1024, 2 ** 40);
  checkInteger('socketHighWaterBytes', options.socketHighWaterBytes, 1024, 2 ** 31);
  checkInteger('routingRefreshTimeoutMs', options.routingRefreshTimeoutMs, 1, 600_000);
  checkInteger('idleTimeoutS', options.idleTimeoutS, 0, 960);
  assert((options.tlsCertFile === undefined) === (options.tlsKeyFile === undefined), 'gateway TLS needs both a certificate and a key file');
  assert(options.tokenKey === undefined || options.tokenKey.byteLength >= MIN_KEY_BYTES, `gateway token key must be at least ${MIN_KEY_BYTES} bytes`);
  return Object.freeze(options);
}
