// Shared fixtures for the dashboard tests: a real embedded broker, a publisher that sends protocol
// messages through the protocol's own encoder (so every payload is on-contract), and a small
// realistic cluster scene (three nodes, eight shards, one node's disk latency rising).
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/common/log.js';
import {
  clusterTopics,
  encodeMessage,
  type ClusterTopics,
  type ExplanationEntry,
  type Incident,
  type MessageKind,
  type MessageTypes,
  type RoutingTable,
  type Score,
  type ShardRoute,
} from '../../src/protocol/index.js';

export const CLUSTER = 'dash-test';
export const NODES = ['node-a', 'node-b', 'node-c'] as const;

/** A broker that logs only errors, so test output stays readable. */
export function quietBroker(): Promise<EmbeddedBroker> {
  return startEmbeddedBroker({ port: 0, logger: createLogger('broker', () => undefined) });
}

/** A connected MQTT client that publishes encoded protocol messages. */
export class Publisher {
  readonly topics: ClusterTopics;
  private constructor(
    readonly client: MqttClient,
    cluster: string,
  ) {
    this.topics = clusterTopics(cluster);
  }

  static async connect(url: string, cluster = CLUSTER): Promise<Publisher> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
    return new Publisher(client, cluster);
  }

  async send<K extends MessageKind>(topic: string, kind: K, message: MessageTypes[K], retain = false): Promise<void> {
    await this.client.publishAsync(topic, Buffer.from(encodeMessage(kind, message)), { qos: 1, retain });
  }

  async raw(topic: string, payload: Buffer): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1 });
  }

  birth(node: string, ts = Date.now()): Promise<void> {
    return this.send(this.topics.node(node, 'state'), 'node-state', { state: 'online', session: `s-${node}`, ts, version: '0.1.0', profile: 'generic-x86-server', dataUrl: `ws://127.0.0.1:${7300 + NODES.indexOf(node as (typeof NODES)[number])}` }, true);
  }

  routing(table: RoutingTable): Promise<void> {
    return this.send(this.topics.routing, 'routing', table, true);
  }

  score(node: string, score: Score): Promise<void> {
    return this.send(this.topics.node(node, 'score'), 'score', score);
  }

  incident(incident: Incident): Promise<void> {
    return this.send(this.topics.incident(incident.id), 'incident', incident);
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

/** A shard route with data URLs for every node it names. */
export function route(id: number, epoch: number, primary: string, shadows: string[], writes: ShardRoute['writes'] = 'open'): ShardRoute {
  const dataUrls = Object.fromEntries([primary, ...shadows].map((node) => [node, `ws://127.0.0.1:${7300 + NODES.indexOf(node as (typeof NODES)[number])}`]));
  return { id, epoch, primary, shadows, writes, dataUrls };
}

/** Eight shards spread over the three nodes: primary i % 3, shadow (i + 1) % 3. */
export function initialRouting(version = 1, ts = Date.now()): RoutingTable {
  const shards = Array.from({ length: 8 }, (_, i) => route(i, 1, NODES[i % 3]!, [NODES[(i + 1) % 3]!]));
  return { version, ts, shardCount: 8, shards };
}

/** The disk-await driver of a node whose disk is slowing down: `level` 0 (healthy) .. 1 (at the SLO). */
export function diskDriver(level: number, share = 0.7): ExplanationEntry {
  const value = 2 + 40 * level;
  return { series: 'disk_await_ms', value, forecast: value * 1.35 + 2, lower: value * 1.05, upper: value * 1.8 + 4, threshold: 50, direction: 'above', breachProbability: Math.max(0, Math.min(1, level * 1.1)), share };
}

/** A score for `node`, with every shard it holds reported at `shardP`. */
export function scoreFor(node: string, ts: number, nodeP: number, shardP: number, shards: number[], level: number): Score {
  const top = [diskDriver(level), { series: 'store_latency_ms_p99', value: 3 + 30 * level, forecast: 4 + 40 * level, lower: 2 + 20 * level, upper: 6 + 60 * level, threshold: 50, share: 0.2 }];
  return {
    ts,
    horizonS: 60,
    node: { p: nodeP, top },
    shards: Object.fromEntries(shards.map((shard) => [String(shard), { p: shardP, top }])),
  };
}

/** A completed planned switch of `shard` from `fromNode` to `toNode`, driven by disk latency. */
export function switchIncident(id: string, shard: number, fromNode: string, toNode: string, ts: number): Incident {
  return {
    id,
    kind: 'planned-switch',
    outcome: 'completed',
    ts,
    shard,
    fromNode,
    toNode,
    fromEpoch: 1,
    toEpoch: 2,
    lastLsn: 48_211,
    rootCause: { summary: `disk_await_ms on ${fromNode} forecast to cross its 50 ms SLO within 60 s`, score: 0.91, top: [diskDriver(0.85), { series: 'store_latency_ms_p99', value: 28, forecast: 41, lower: 30, upper: 55, threshold: 50, share: 0.2 }] },
    scores: Array.from({ length: 30 }, (_, i) => ({ ts: ts - (30 - i) * 1000, p: Math.min(1, 0.1 + i * 0.028) })),
    timeline: [
      { ts, event: 'paused', detail: 'writes paused at the gateways' },
      { ts: ts + 12, event: 'fenced', detail: `${fromNode} fenced at epoch 1, last lsn 48211` },
      { ts: ts + 31, event: 'promoted', detail: `${toNode} promoted at epoch 2` },
      { ts: ts + 38, event: 'routed', detail: 'routing v3 published, writes open' },
    ],
  };
}

/** Polls `check` every 20 ms until it returns true or `timeoutMs` passes. */
export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
