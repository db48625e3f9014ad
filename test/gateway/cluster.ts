/**
 * A small real cluster for the gateway suites: an embedded broker, agents' data ports, routing
 * tables published by the test (as the coordinator would), and gateways.
 */
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/index.js';
import { createLogger } from '../../src/common/log.js';
import type { ShardRoute } from '../../src/protocol/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShardHost, type ShardHostOptions } from '../../src/replication/index.js';
import { RoutingPublisher, eventually } from './helpers.js';

export const CLUSTER = 'test';
const quiet = createLogger('gateway-test', () => undefined);

/** A real agent's replication side: a ShardHost with its data port, in a temp data dir. */
export interface TestAgent {
  node: string;
  url: string;
  host: ShardHost;
  close(): Promise<void>;
}

/** Starts a ShardHost for `node` in a fresh temp directory (removed on close). */
export async function startAgent(node: string, options: Partial<ShardHostOptions> = {}): Promise<TestAgent> {
  const dataDir = mkdtempSync(join(tmpdir(), `foreshard-gw-${node}-`));
  const host = await ShardHost.start({ dataDir, node, fsyncPolicy: 'none', minShadowAcks: 0, applyDelayMs: 50, ...options });
  return {
    node, url: host.dataUrl, host,
    close: async () => {
      await host.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestCluster {
  broker: EmbeddedBroker;
  publisher: RoutingPublisher;
  agents: TestAgent[];
  gateways: Gateway[];
  startGateway(options?: Partial<GatewayOptions>): Promise<Gateway>;
  /** Publishes a table and waits until every gateway adopted it. */
  publish(shardCount: number, shards: ShardRoute[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a broker and one ShardHost per node, opening the listed primaries at epoch 1, and
 * `shadows` (node → shards it follows, from the shard's primary).
 */
export async function startTestCluster(nodes: string[], primaries: Record<string, number[]>, shadows: Record<string, number[]> = {}, hostOptions: Partial<ShardHostOptions> = {}): Promise<TestCluster> {
  const broker = await startEmbeddedBroker({ port: 0, logger: quiet });
  const publisher = await RoutingPublisher.connect(broker.url, CLUSTER);
  const agents: TestAgent[] = [];
  for (const node of nodes) {
    const agent = await startAgent(node, hostOptions);
    for (const shard of primaries[node] ?? []) await agent.host.openShard(shard, 'primary', 1);
    agents.push(agent);
  }
  for (const [node, shards] of Object.entries(shadows)) {
    const agent = agents.find((candidate) => candidate.node === node)!;
    for (const shard of shards) {
      const primary = agents.find((candidate) => primaries[candidate.node]?.includes(shard))!;
      await agent.host.addShadow(shard, 1, { node: primary.node, dataUrl: primary.url });
    }
  }
  const gateways: Gateway[] = [];
  let version = 0;
  const cluster: TestCluster = {
    broker, publisher, agents, gateways,
    async startGateway(options = {}) {
      const gateway = await startGateway({ port: 0, brokerUrl: broker.url, cluster: CLUSTER, logger: quiet, ...options });
      gateways.push(gateway);
      await eventually(() => gateway.routing.version >= version, 5_000, 'the gateway to adopt routing');
      return gateway;
    },
    async publish(shardCount, shards) {
      version = (await publisher.publish(shardCount, shards)).version;
      await eventually(() => gateways.every((gateway) => gateway.routing.version >= version), 5_000, 'gateways to adopt routing');
    },
    async close() {
      for (const gateway of gateways) await gateway.close();
      for (const agent of agents) await agent.close();
      await publisher.close();
      await broker.close();
    },
  };
  return cluster;
}

/** The routes of a cluster where `primaries[node]` lists the shards a node leads and `shadows[node]` those it follows. */
export function routesOf(cluster: TestCluster, shardCount: number, primaries: Record<string, number[]>, shadows: Record<string, number[]> = {}): ShardRoute[] {
  const urls = Object.fromEntries(cluster.agents.map((agent) => [agent.node, agent.url]));
  const routes: ShardRoute[] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    const primary = Object.keys(primaries).find((node) => primaries[node]!.includes(shard))!;
    const shadowNodes = Object.keys(shadows).filter((node) => shadows[node]!.includes(shard));
    routes.push({ id: shard, epoch: 1, primary, shadows: shadowNodes, writes: 'open', dataUrls: Object.fromEntries([primary, ...shadowNodes].map((node) => [node, urls[node]!])) });
  }
  return routes;
}

/**
 * A planned switch of `shard` to its shadow, by hand, exactly as DESIGN.md §3 orders it: pause
 * writes in routing → fence the old primary at e → promote the shadow at e+1 through the fenced
 * lsn → the old primary follows the new one (so writes find a shadow to acknowledge them) →
 * routing points at the new primary with writes open. `routes` is updated in place.
 */
export async function plannedSwitch(cluster: TestCluster, shardCount: number, routes: ShardRoute[], shard: number): Promise<{ lastLsn: number }> {
  const current = routes[shard]!;
  const from = cluster.agents.find((agent) => agent.node === current.primary)!;
  const to = cluster.agents.find((agent) => agent.node === current.shadows[0])!;
  const epoch = current.epoch;
  routes[shard] = { ...current, writes: 'paused' };
  await cluster.publish(shardCount, routes);
  const fenced = await from.host.fence(shard, epoch);
  const lastLsn = fenced.lastLsn ?? 0;
  await to.host.promote(shard, epoch + 1, lastLsn);
  await from.host.follow(shard, epoch + 1, { node: to.node, dataUrl: to.url });
  routes[shard] = { id: shard, epoch: epoch + 1, primary: to.node, shadows: [from.node], writes: 'open', dataUrls: { [to.node]: to.url, [from.node]: from.url } };
  await cluster.publish(shardCount, routes);
  return { lastLsn };
}
