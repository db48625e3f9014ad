/**
 * The coordinator's MQTT connection: mqtt.js (MQTT 3.1.1 unless told otherwise), a retained will on
 * `coordinator/state`, the subscriptions the core reads, and one publish path that counts what awaits
 * the broker. mqtt.js reconnects by itself with a fixed period and keeps QoS 1 messages queued while
 * it is offline; the service republishes its birth and the routing table on every connect, because
 * the embedded broker keeps retained messages in memory only.
 *
 * @module
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../common/log.js';

/** Wait between reconnect attempts. */
export const coordinatorReconnectMs = 1_000;
/** Publishes awaiting the broker's acknowledgement; past it, publishes wait in mqtt.js's queue and are counted. */
export const maxCoordinatorInFlightPublishes = 4_096;

/** How to reach the broker. */
export interface CoordinatorMqttOptions {
  url: string;
  protocolVersion: 4 | 5;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  keepaliveS: number;
}

/** What the link tells its owner. */
export interface CoordinatorLinkHandlers {
  onConnect(): void;
  /** The connection was lost (before each reconnect attempt's `onConnect`). */
  onDisconnect?(): void;
  onMessage(topic: string, payload: Buffer, retained: boolean): void;
}

/** Counters for `/metrics`. */
export interface CoordinatorLinkState {
  connected: boolean;
  connects: number;
  publishFailures: number;
  inFlight: number;
  backlogged: number;
}

/** The coordinator's broker connection. */
export class CoordinatorLink {
  private client: MqttClient | undefined;
  private readonly counters = { connects: 0, publishFailures: 0, inFlight: 0, backlogged: 0 };

  constructor(
    private readonly options: CoordinatorMqttOptions,
    private readonly clientId: string,
    private readonly will: { topic: string; payload: Uint8Array },
    private readonly handlers: CoordinatorLinkHandlers,
    private readonly logger: Logger,
  ) {}

  /** Connects; resolves once the first connection is up (or rejects after `timeoutMs`). */
  async start(timeoutMs: number): Promise<void> {
    const o = this.options;
    const clientOptions: IClientOptions = {
      protocolVersion: o.protocolVersion,
      clientId: this.clientId,
      clean: true,
      keepalive: o.keepaliveS,
      reconnectPeriod: coordinatorReconnectMs,
      connectTimeout: Math.min(timeoutMs, 10_000),
      queueQoSZero: false,
      will: { topic: this.will.topic, payload: Buffer.from(this.will.payload), qos: 1, retain: true },
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
    };
    const client = mqtt.connect(o.url, clientOptions);
    this.client = client;
    client.on('message', (topic, payload, packet) => this.handlers.onMessage(topic, payload, packet.retain));
    client.on('error', (error) => this.logger.warn('MQTT error', { error: error.message }));
    client.on('close', () => {
      this.logger.debug('MQTT connection closed');
      this.handlers.onDisconnect?.();
    });
    client.on('connect', () => {
      this.counters.connects++;
      this.logger.info('connected to the MQTT broker', { url: o.url, connects: this.counters.connects });
      this.handlers.onConnect();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection to ${o.url} within ${timeoutMs} ms`)), timeoutMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** True while connected. */
  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Subscribes at QoS 1; resolves once the broker granted every filter (so retained messages are on their way). */
  async subscribe(filters: string[]): Promise<void> {
    const granted = await this.client!.subscribeAsync(filters, { qos: 1 });
    const refused = granted.filter((grant) => grant.qos === 128).map((grant) => grant.topic);
    if (refused.length > 0) throw new Error(`the broker refused the subscriptions ${refused.join(', ')}`);
  }

  /** Publishes; a failure is counted and logged, never thrown (the core's timeouts cover lost commands). */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean): void {
    const client = this.client;
    if (!client) return;
    if (this.counters.inFlight >= maxCoordinatorInFlightPublishes) this.counters.backlogged++;
    this.counters.inFlight++;
    client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos, retain }, (error) => {
      this.counters.inFlight--;
      if (!error) return;
      this.counters.publishFailures++;
      this.logger.warn('publish failed', { topic, error: error.message });
    });
  }

  /** Publishes and waits for the broker's acknowledgement (births and the clean-shutdown state). */
  async publishNow(topic: string, payload: Uint8Array, retain: boolean, timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    await withTimeout(client.publishAsync(topic, Buffer.from(payload), { qos: 1, retain }), timeoutMs);
  }

  /** The link's counters. */
  state(): CoordinatorLinkState {
    return { connected: this.connected, ...this.counters };
  }

  /** Disconnects (waiting at most `timeoutMs`). */
  async stop(timeoutMs = 2_000): Promise<void> {
    const client = this.client;
    if (!client) return;
    await withTimeout(client.endAsync(), timeoutMs).catch(() => client.end(true));
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
