/**
 * The agent's one MQTT connection (DESIGN.md §5.2, issue 5 "MQTT"). It connects with mqtt.js
 * (MQTT 3.1.1 unless told otherwise), leaves a will that marks the node offline, publishes its birth
 * retained on every (re)connect, subscribes to the node's `cmd` topic, and reconnects with
 * exponential backoff. While it cannot publish, messages wait in a bounded {@link OfflineBuffer}.
 *
 * One write path: every publish goes through `send`, which counts what awaits the broker's
 * acknowledgement and, past the in-flight limit, leaves the rest in the buffer until a callback
 * frees a slot, so a slow broker slows the agent's publishing instead of growing mqtt.js's queue.
 */
import { randomBytes } from 'node:crypto';
import Module, { createRequire } from 'node:module';
import { createConnection, isIP } from 'node:net';
import * as nodeStream from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from '../common/log.js';
import { clusterTopics, decodeOrDrop, encodeMessage, type ClusterTopics, type DropHandler, type NodeBirth } from '../protocol/index.js';
import { OfflineBuffer, type BufferedMessage, type OfflineBufferCounts } from './offline-buffer.js';
import type { MqttLinkOptions } from './options.js';

/** Jitter applied to each reconnect wait, so a fleet does not reconnect in lock step after a broker restart. */
export const RECONNECT_JITTER = 0.2;

/** TLS material, read from the files named in the options. */
export interface MqttTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** What the link needs from the agent. */
export interface MqttLinkParts {
  readonly options: MqttLinkOptions;
  readonly tls: MqttTls;
  readonly cluster: string;
  readonly nodeId: string;
  /** Random per process start; births and wills name it. */
  readonly session: string;
  /** The birth to publish now (its `ts` is taken at each connect). */
  birth(): NodeBirth;
  /** A payload arrived on this node's `cmd` topic. */
  onCommand(payload: Buffer): void;
  /** Receives undecodable payloads on the topics the link reads itself (its own state topic). */
  onDrop: DropHandler;
  readonly logger: Logger;
}

/** The link's state, for `/metrics` and `/healthz`. */
export interface MqttLinkState {
  connected: boolean;
  /** Successful connections since start; 1 after the first, +1 per reconnect. */
  connects: number;
  /** Failed or lost connections since start. */
  disconnects: number;
  /** Births published (one per connect, plus re-assertions after a stale will). */
  births: number;
  publishFailures: number;
  inFlight: number;
  lastError?: string;
  /** When the current connection was made, or the last one was lost (ms since the Unix epoch). */
  sinceMs: number;
  offline: OfflineBufferCounts;
}

/** A random session id, as births and wills carry it. */
export function newSessionId(): string {
  return randomBytes(8).toString('hex');
}

/** The reconnect wait before attempt `attempt` (1-based): doubled each time from `minMs` up to `maxMs`, with jitter. */
export function reconnectDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(1, Math.round(base * (1 - RECONNECT_JITTER + 2 * RECONNECT_JITTER * random())));
}

/** The agent's MQTT connection; see the module comment. */
export class MqttLink {
  readonly topics: ClusterTopics;
  private client: MqttClient | undefined;
  private readonly buffer: OfflineBuffer;
  private readonly stateTopic: string;
  private readonly cmdTopic: string;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private stopping = false;
  private readonly counters = { connects: 0, disconnects: 0, births: 0, publishFailures: 0, inFlight: 0, foreignBirths: 0, sinceMs: Date.now() };
  private lastError: string | undefined;

  constructor(private readonly parts: MqttLinkParts) {
    this.topics = clusterTopics(parts.cluster);
    this.stateTopic = this.topics.node(parts.nodeId, 'state');
    this.cmdTopic = this.topics.node(parts.nodeId, 'cmd');
    this.buffer = new OfflineBuffer(parts.options.offlineBufferMessages, parts.options.offlineBufferBytes);
  }

  /** Connects (in the background: a broker that is down now is retried with backoff). */
  start(): void {
    const { options, tls } = this.parts;
    const will = encodeMessage('node-state', { state: 'offline', session: this.parts.session });
    const clientOptions: IClientOptions = {
      protocolVersion: options.protocolVersion,
      // A client id per process start: an agent restarted quickly never takes over (and is never
      // taken over by) the session of its previous life [MQTT-3.1.4-2]; see onOwnState for its will.
      clientId: `foreshard-${this.parts.nodeId}-${this.parts.session}`,
      clean: true,
      keepalive: options.keepaliveS,
      connectTimeout: options.connectTimeoutMs,
      // Reconnecting is ours (backoff with jitter); mqtt.js's fixed-period retry is off.
      reconnectPeriod: 0,
      // QoS 0 messages never queue inside mqtt.js; the offline buffer bounds them instead.
      queueQoSZero: false,
      resubscribe: false,
      // mqtt-packet otherwise builds, on the first write, a cache of a 2-byte Buffer for every
      // packet id 0..65535: about 6 MB of heap that stays for the life of the process. The agent
      // sends a few QoS 1 packets a minute, so encoding an id when it is written costs nothing.
      writeCache: false,
      will: { topic: this.stateTopic, payload: Buffer.from(will), qos: 1, retain: true },
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...tls,
    };
    const client = connectClient(options.url, clientOptions);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (error) => {
      this.lastError = error.message;
      this.parts.logger.warn('MQTT error', { error: error.message, code: (error as { code?: unknown }).code ?? null });
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Publishes now when it can, otherwise keeps the message in the offline buffer (dropping the oldest past its limits). */
  publish(message: BufferedMessage): void {
    if (this.stopping) return;
    if (this.canSend() && this.buffer.size === 0) this.send(message);
    else this.buffer.push(message);
  }

  /** The link's state and counters. */
  state(): MqttLinkState {
    return {
      connected: this.connected,
      connects: this.counters.connects,
      disconnects: this.counters.disconnects,
      births: this.counters.births,
      publishFailures: this.counters.publishFailures,
      inFlight: this.counters.inFlight,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      sinceMs: this.counters.sinceMs,
      offline: this.buffer.counts(),
    };
  }

  /**
   * Marks the node offline with a retained clean-shutdown state (a DISCONNECT discards the will
   * [MQTT-3.1.2-10], so the agent says it itself) and disconnects. Waits at most `timeoutMs`.
   */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      const offline = encodeMessage('node-state', { state: 'offline', session: this.parts.session, ts: Date.now() });
      await withTimeout(client.publishAsync(this.stateTopic, Buffer.from(offline), { qos: 1, retain: true }), timeoutMs).catch(() => undefined);
    }
    await withTimeout(client.endAsync(), timeoutMs).catch(() => client.end(true));
  }

  private canSend(): boolean {
    return this.connected && this.counters.inFlight < this.parts.options.maxInFlightPublishes;
  }

  private send(message: BufferedMessage): void {
    const client = this.client!;
    this.counters.inFlight += 1;
    client.publish(message.topic, Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength), { qos: message.qos, retain: message.retain }, (error) => {
      this.counters.inFlight -= 1;
      if (error) {
        this.counters.publishFailures += 1;
        // A command result lost with its connection is worth another try; a metric or score is superseded by the next.
        if (message.kind === 'command-result' && !this.stopping) this.buffer.push(message);
      }
      this.flush();
    });
  }

  private flush(): void {
    while (this.canSend() && this.buffer.size > 0) this.send(this.buffer.shift()!);
  }

  private onConnect(): void {
    this.counters.connects += 1;
    this.counters.sinceMs = Date.now();
    this.failedAttempts = 0;
    this.lastError = undefined;
    this.parts.logger.info('connected to the MQTT broker', { url: this.parts.options.url, connects: this.counters.connects });
    const client = this.client!;
    client.subscribe([this.cmdTopic, this.stateTopic], { qos: 1 }, (error, granted) => {
      const refused = (granted ?? []).filter((grant) => grant.qos === 128).map((grant) => grant.topic);
      if (error || refused.length > 0) this.parts.logger.error('cannot subscribe; commands will not arrive', { error: error?.message ?? null, refused });
    });
    this.publishBirth();
    this.flush();
  }

  private publishBirth(): void {
    this.counters.births += 1;
    const birth = this.parts.birth();
    this.lastBirthTs = birth.ts;
    // The birth goes ahead of anything buffered: whoever reads this node's messages learns its session first.
    this.send({ kind: 'node-state', topic: this.stateTopic, payload: encodeMessage('node-state', birth), qos: 1, retain: true });
  }

  /** `ts` of the last birth this link published; 0 before the first. */
  private lastBirthTs = 0;

  private onClose(): void {
    this.counters.disconnects += 1;
    this.counters.sinceMs = Date.now();
    if (this.stopping || this.reconnectTimer !== undefined) return;
    this.failedAttempts += 1;
    const delayMs = reconnectDelayMs(this.failedAttempts, this.parts.options.reconnectMinMs, this.parts.options.reconnectMaxMs);
    if (this.failedAttempts === 1 || this.failedAttempts % 10 === 0) {
      this.parts.logger.warn('MQTT connection lost or refused; reconnecting', { attempt: this.failedAttempts, delayMs, error: this.lastError ?? null });
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopping) this.client?.reconnect();
    }, delayMs);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === this.cmdTopic) return this.parts.onCommand(payload);
    if (topic === this.stateTopic) return this.onOwnState(payload);
  }

  /**
   * A will of an earlier session of this node (a crashed process whose connection the broker
   * closed late), or a birth of one published before this session's (delivered late), can replace
   * the retained birth of this one. The link watches its own state topic and asserts its birth again
   * when that happens. A birth stamped after its own is another live agent with this node id: it is
   * reported, not answered, so two such agents cannot take turns for ever (only the older answers).
   */
  private onOwnState(payload: Buffer): void {
    const state = decodeOrDrop('node-state', payload, this.stateTopic, this.parts.onDrop);
    if (state === undefined || state.session === this.parts.session || this.stopping) return;
    if (state.state === 'online' && state.ts >= this.lastBirthTs) {
      // Answering another live session's birth with ours would ping-pong forever: say it, do not fight.
      this.counters.foreignBirths += 1;
      if (this.counters.foreignBirths <= 3) this.parts.logger.error('another agent is online with this node id; node ids must be unique', { session: state.session });
      return;
    }
    if (!this.canSend()) return;
    this.parts.logger.info(`the ${state.state === 'online' ? 'late birth' : 'will'} of an earlier session of this node replaced the birth; publishing the birth again`, { session: state.session });
    this.publishBirth();
  }
}

const require = createRequire(import.meta.url);

/**
 * Connects like `mqtt.connect(url, options)`, without loading mqtt.js's entry point when it is not
 * needed. The entry point loads the stream builders of every transport mqtt.js supports, and on the
 * first connect its SOCKS proxy support: ws, socks, ip-address and smart-buffer, about 340 KB of
 * JavaScript the agent does not use with an mqtt:// or mqtts:// broker (docs/agent-memory.md). For
 * those URLs the client is mqtt.js's own `MqttClient` (mqtt/lib/client), given a stream builder
 * that opens the connection the way mqtt.js's tcp and tls builders do. Every other case goes to
 * `mqtt.connect` itself, loaded then: WebSocket URLs, a SOCKS proxy (MQTTJS_SOCKS_PROXY), and
 * credentials or a query in the URL, whose parsing is mqtt.js's.
 */
export function connectClient(url: string, options: IClientOptions): MqttClient {
  const parsed = new URL(url);
  let transport = { 'mqtt:': 'tcp', 'tcp:': 'tcp', 'mqtts:': 'tls', 'tls:': 'tls' }[parsed.protocol];
  // mqtt.js upgrades mqtt:// to mqtts:// when a client certificate is given (and refuses tcp://).
  if (transport === 'tcp' && options.cert !== undefined && options.key !== undefined) transport = parsed.protocol === 'mqtt:' ? 'tls' : undefined;
  const simple = transport !== undefined && parsed.username === '' && parsed.password === '' && parsed.search === '' && !process.env.MQTTJS_SOCKS_PROXY;
  if (!simple) {
    const mqtt = require('mqtt') as typeof import('mqtt');
    return mqtt.connect(url, options);
  }
  // WHATWG URL keeps an IPv6 address in brackets; the socket wants it bare, as url.parse gives it.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = parsed.port === '' ? (transport === 'tls' ? 8883 : 1883) : Number(parsed.port);
  const { default: Client } = loadMqttClientModule() as { default: typeof MqttClient };
  const client = new Client((mqttClient) => (transport === 'tls' ? tlsStream(mqttClient, host, port, options) : createConnection({ host, port })), { ...options, protocol: transport === 'tls' ? 'mqtts' : 'mqtt', host, hostname: host, port });
  // As mqtt.connect does: an error with no listener of the caller's must not throw.
  client.on('error', () => undefined);
  return client;
}

/**
 * mqtt.js's client module (mqtt/lib/client), loaded on node's own streams and timers. mqtt.js is
 * written for browsers too, so it takes its streams from `readable-stream` (a copy of node's stream
 * module, 190 KB of JavaScript) and its interval timers from `worker-timers` (Web Worker timers,
 * which it uses only in a browser; in node it calls the global `setInterval`). In node both are
 * what node already has: the client, its store and mqtt-packet's parser (through `bl`) use only
 * the `Readable`, `Writable` and `Duplex` classes, which node:stream has with the same behaviour.
 * So, before the client loads, the module cache's entries for those two packages, as the client
 * resolves them, are set to node:stream and to the global timers (`require.cache`, as node's docs
 * describe for replacing a module). A package already loaded is left as it is. This keeps about
 * 0.5–1 MB off the agent's RSS (docs/agent-memory.md, "Ninth round").
 */
function loadMqttClientModule(): unknown {
  const clientPath = require.resolve('mqtt/lib/client');
  if (require.cache[clientPath] === undefined) {
    const fromClient = createRequire(clientPath);
    const provide = (name: string, exports: unknown): void => {
      const path = fromClient.resolve(name);
      if (require.cache[path] !== undefined) return;
      const module = new Module(path);
      module.filename = path;
      module.loaded = true;
      module.exports = exports;
      require.cache[path] = module;
    };
    provide('readable-stream', nodeStream);
    provide('worker-timers', { setInterval, clearInterval, setTimeout, clearTimeout });
  }
  return require(clientPath);
}

/** A TLS connection as mqtt.js's tls stream builder opens it: SNI for a host name, and a certificate the CA does not vouch for is an error. */
function tlsStream(client: MqttClient, host: string, port: number, options: IClientOptions): TLSSocket {
  const rejectUnauthorized = options.rejectUnauthorized !== false;
  // node:tls is loaded for an mqtts:// broker only.
  const { connect: tlsConnect } = require('node:tls') as typeof import('node:tls');
  const connection = tlsConnect({
    host,
    port,
    ...(isIP(host) === 0 ? { servername: options.servername ?? host } : options.servername !== undefined ? { servername: options.servername } : {}),
    rejectUnauthorized,
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.cert !== undefined ? { cert: options.cert } : {}),
    ...(options.key !== undefined ? { key: options.key } : {}),
  });
  const onTlsError = (error: Error): void => {
    if (rejectUnauthorized) client.emit('error', error);
    connection.end();
  };
  connection.on('secureConnect', () => {
    if (rejectUnauthorized && !connection.authorized) connection.emit('error', new Error('TLS not authorized'));
    else connection.removeListener('error', onTlsError);
  });
  connection.on('error', onTlsError);
  return connection;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
