/**
 * The gateway's view of the routing table (DESIGN.md §5.2): it subscribes to the retained
 * `routing` topic, adopts a table only when its `version` is higher than the one it holds (the
 * coordinator's versions only go up), and lets requests that met `MOVED` wait for a newer table.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { clusterTopics, createDropCounter, decodeOrDrop, type DropCounter, type RoutingTable, type ShardRoute } from '../protocol/index.js';
import type { Logger } from '../common/log.js';
import type { MqttLogin } from '../common/mqtt-login.js';
import { shardOfKey } from './hash.js';

/** Listeners waiting for a newer table, at most this many (each is a request held by MOVED). */
export const MAX_ROUTING_WAITERS = 1_000_000;

/** Told of each adopted table, with the routes it replaced (empty for the first table). */
export type RoutingListener = (table: RoutingTable, previous: ReadonlyMap<number, ShardRoute>) => void;

/**
 * True when `after` names another primary than `before` did, at a newer epoch: a switch or a
 * failover moved the shard, and the old primary was fenced out before the new one took writes.
 */
export function primaryMoved(before: { primary: string | null; epoch: number }, after: ShardRoute | undefined): boolean {
  return after !== undefined && after.primary !== null && before.primary !== null && after.primary !== before.primary && after.epoch > before.epoch;
}

/** The latest adopted routing table, indexed by shard. */
export class RoutingView {
  private table: RoutingTable | undefined;
  private routes = new Map<number, ShardRoute>();
  private listeners = new Set<RoutingListener>();

  /** The adopted table's version, or -1 before the first table. */
  get version(): number {
    return this.table?.version ?? -1;
  }

  /** The cluster's shard count, or undefined before the first table. */
  get shardCount(): number | undefined {
    return this.table?.shardCount;
  }

  /** Adopts `table` when it is newer than the one held; returns whether it did. */
  adopt(table: RoutingTable): boolean {
    if (this.table !== undefined && table.version <= this.table.version) return false;
    const previous = this.routes;
    this.table = table;
    this.routes = new Map(table.shards.map((route) => [route.id, route]));
    for (const listener of [...this.listeners]) listener(table, previous);
    return true;
  }

  /** The route of `shard`, or undefined when the table does not list it. */
  route(shard: number): ShardRoute | undefined {
    return this.routes.get(shard);
  }

  /** The shard of `key` under the current table, or undefined before the first table. */
  shardOf(key: Uint8Array): number | undefined {
    return this.table === undefined ? undefined : shardOfKey(key, this.table.shardCount);
  }

  /** Calls `listener` on every adopted table until the returned function is called. */
  onChange(listener: RoutingListener): () => void {
    if (this.listeners.size >= MAX_ROUTING_WAITERS) throw new RangeError('too many routing listeners');
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves true once a table newer than `version` is adopted, or false after `timeoutMs`. */
  waitForNewer(version: number, timeoutMs: number): Promise<boolean> {
    if (this.version > version) return Promise.resolve(true);
    return new Promise((resolve) => {
      const stop = this.onChange((table) => {
        if (table.version <= version) return;
        clearTimeout(timer);
        stop();
        resolve(true);
      });
      const timer = setTimeout(() => {
        stop();
        resolve(false);
      }, timeoutMs);
    });
  }
}

/** Options of {@link subscribeRouting}. */
export interface RoutingSubscriptionOptions {
  brokerUrl: string;
  cluster: string;
  clientId: string;
  /** User name, password and TLS files; none by default. */
  login?: MqttLogin;
  /** 4 (MQTT 3.1.1, the default) or 5. */
  protocolVersion?: 4 | 5;
  /** Keep-alive in seconds; 10 by default. */
  keepaliveS?: number;
  logger: Logger;
}

/** A live subscription feeding a {@link RoutingView}. */
export interface RoutingSubscription {
  readonly view: RoutingView;
  /** Whether the MQTT connection is up. */
  connected(): boolean;
  /** Bad routing payloads dropped so far. */
  readonly drops: DropCounter;
  /** Subscribes again, so the broker sends the retained table again (after a MOVED). */
  refresh(): void;
  close(): Promise<void>;
}

/**
 * Connects to the broker and keeps `view` up to date from the retained `routing` topic. Resolves
 * once connected; the first table arrives whenever the broker sends it.
 */
export async function subscribeRouting(options: RoutingSubscriptionOptions, view = new RoutingView()): Promise<RoutingSubscription> {
  const topic = clusterTopics(options.cluster).routing;
  const logger = options.logger;
  const drops = createDropCounter({ log: (drop, count) => logger.warn('dropped routing payload', { source: drop.source, code: drop.error.code, error: drop.error.message, count }) });
  const client: MqttClient = mqtt.connect(options.brokerUrl, {
    clientId: options.clientId,
    protocolVersion: options.protocolVersion ?? 4,
    keepalive: options.keepaliveS ?? 10,
    clean: true,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    ...options.login,
  });
  const subscribe = (): void => {
    client.subscribe(topic, { qos: 1 }, (error) => {
      if (error) logger.warn('routing subscribe failed', { error: error.message });
    });
  };
  client.on('connect', subscribe);
  client.on('error', (error) => logger.warn('mqtt error', { error: error.message }));
  client.on('message', (received, payload) => {
    if (received !== topic) return;
    const table = decodeOrDrop('routing', payload, options.brokerUrl, drops.onDrop);
    if (table && view.adopt(table)) logger.debug('routing adopted', { version: table.version });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      client.end(true);
      reject(error);
    };
    client.once('connect', () => {
      client.off('error', onError);
      resolve();
    });
    client.once('error', onError);
  });
  return {
    view,
    drops,
    connected: () => client.connected,
    refresh: () => {
      if (client.connected) client.unsubscribe(topic, () => subscribe());
    },
    close: () => client.endAsync().then(() => undefined),
  };
}
