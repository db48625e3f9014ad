// Proves the coordinator closes the loop with real agents, as separate processes over a real broker:
// the coordinator creates the cluster on three `foreshard agent` processes, a client writes through
// `foreshard gateway` while `foreshard switch <shard>` runs a planned switch, and then routing points
// at a new primary one epoch up, every acknowledged write reads back, the incident is on disk with
// its timeline and outcome, and `foreshard incidents --json` lists it. A second test kills the
// coordinator right after it started another switch and starts a new one: the switch is completed
// once, never started again, and no acknowledged write is lost. The suite runs on the embedded
// broker, and on Mosquitto at 127.0.0.1:1883 when it is reachable (each run its own cluster name).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ForeshardClient } from '../../src/client/index.js';
import type { Incident } from '../../src/coordinator/index.js';
import type { RoutingTable, ShardRoute } from '../../src/protocol/index.js';
import { E2eCluster, reachable, waitFor } from './helpers.js';

const mosquittoReachable = await reachable('127.0.0.1', 1883);
const shardCount = 4;

/** Writes keys one after another until stopped; remembers every acknowledged value. */
function backgroundWriter(client: ForeshardClient, prefix: string, acknowledged: Map<string, string>, failures: string[]): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const key = `${prefix}-${i}`;
      const value = `v-${i}-${Date.now()}`;
      try {
        await client.put(key, value);
        acknowledged.set(key, value);
      } catch (error) {
        failures.push(`${key}: ${(error as { code?: string }).code ?? 'ERROR'} ${(error as Error).message}`);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

function route(table: RoutingTable | undefined, shard: number): ShardRoute | undefined {
  return table?.shards.find((r) => r.id === shard);
}

function storedIncidents(cluster: E2eCluster): Incident[] {
  const dir = join(cluster.coordinatorDir, 'incidents');
  return readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as Incident);
}

async function readBack(client: ForeshardClient, acknowledged: Map<string, string>): Promise<string[]> {
  const lost: string[] = [];
  for (const [key, value] of acknowledged) if ((await client.getString(key)) !== value) lost.push(key);
  return lost;
}

/**
 * The broker, `nodes` agents, a coordinator that creates `shards` shards with `shadows` shadows each,
 * and a gateway; waits until every shard is open with its shadows, pauses automation, and returns a
 * client of the gateway.
 */
async function startSwitchCluster(cluster: E2eCluster, nodes: readonly string[], shards: number, shadows: number): Promise<ForeshardClient> {
  await cluster.startBroker();
  // No forecasts: on a shared test machine the untuned scores call every node risky, and a risky
  // node is never a switch target. These suites are about the switch, not the scores.
  await Promise.all(nodes.map((node) => cluster.startAgent(node, ['--no-prediction'])));
  await cluster.startCoordinator(['--shards', String(shards), '--shadows-per-shard', String(shadows)]);
  const gateway = await cluster.startGateway();
  await waitFor('the cluster to be created', () => {
    const table = cluster.latestRouting();
    return table?.shards.length === shards && table.shards.every((r) => r.writes === 'open' && r.shadows.length === shadows);
  }, 30_000, () => cluster.logs());
  // Scores of a busy test machine must not start switches of their own while a test switches by hand.
  const paused = await cluster.runCli(['pause-automation', ...cluster.targetFlags]);
  assert.equal(paused.code, 0, paused.stderr);
  return connect(String(gateway.started.url), { requestTimeoutMs: 20_000 });
}

function scenario(name: string, skip: string | false, broker: 'embedded' | 'mosquitto'): void {
  describe(`planned switch with real processes on ${name}`, { skip }, () => {
    const cluster = new E2eCluster({ label: name, broker });
    let client: ForeshardClient;
    const acknowledged = new Map<string, string>();

    before(async () => {
      client = await startSwitchCluster(cluster, ['n1', 'n2', 'n3'], shardCount, 2);
      for (let i = 0; i < 100; i++) {
        await client.put(`seed-${i}`, `s-${i}`);
        acknowledged.set(`seed-${i}`, `s-${i}`);
      }
    });

    after(async () => {
      await client?.close();
      await cluster.stop();
    });

    test('foreshard switch moves a shard to a shadow at epoch + 1, losing no acknowledged write', async () => {
      const before = route(cluster.latestRouting(), 0)!;
      const failures: string[] = [];
      const writer = backgroundWriter(client, 'during', acknowledged, failures);
      await waitFor('writes under way', () => acknowledged.size > 150);
      const switched = await cluster.runCli(['switch', '0', ...cluster.targetFlags]);
      assert.equal(switched.code, 0, switched.stderr);
      assert.match(switched.stdout, /switch of shard 0 from n\d started \(incident inc-g1-\d+\)/);
      const after = await waitFor('routing to point at the new primary', () => {
        const now = route(cluster.latestRouting(), 0);
        return now && now.primary !== before.primary && now.writes === 'open' ? now : undefined;
      }, 20_000, () => cluster.logs());
      await waitFor('more writes after the switch', () => acknowledged.size > 400);
      await writer.stop();
      assert.equal(after.epoch, before.epoch + 1);
      assert.ok(before.shadows.includes(after.primary!), `the new primary ${after.primary} was a shadow of ${before.primary}`);
      assert.deepEqual(failures, [], 'clients see a pause, not errors');
      assert.deepEqual(await readBack(client, acknowledged), [], 'every acknowledged write reads back');

      await waitFor('the incident file', () => storedIncidents(cluster).some((i) => i.shard === 0 && i.closedAtMs !== null));
      const incident = storedIncidents(cluster).find((i) => i.shard === 0)!;
      assert.equal(incident.kind, 'planned-switch');
      assert.equal(incident.outcome.result, 'switched');
      assert.deepEqual([incident.fromNode, incident.toNode, incident.epochBefore, incident.epochAfter], [before.primary, after.primary, before.epoch, after.epoch]);
      const steps = incident.timeline.steps.map((s) => s.step);
      for (const step of ['opened', 'fence-sent', 'fenced', 'promote-sent', 'promoted', 'routing-updated', 'closed']) assert.ok(steps.includes(step), `timeline has ${step}: ${steps.join(',')}`);
      process.stdout.write(`# ${name}: planned switch of shard 0 took ${incident.closedAtMs! - incident.openedAtMs} ms (coordinator open to close), ${acknowledged.size} writes acknowledged\n`);

      const listed = await cluster.runCli(['incidents', '--json', '--data-dir', cluster.coordinatorDir]);
      assert.equal(listed.code, 0, listed.stderr);
      const list = JSON.parse(listed.stdout) as Incident[];
      assert.ok(Array.isArray(list) && list.some((i) => i.id === incident.id && i.outcome.result === 'switched'));
      assert.ok(cluster.incidents.some((i) => i.id === incident.id && i.outcome === 'completed'), 'the incident was published on incident/<id>');
    });

    test('a coordinator killed mid-switch is replaced without a duplicate switch', async () => {
      const before = route(cluster.latestRouting(), 1)!;
      const tablesBefore = cluster.routing.length;
      const failures: string[] = [];
      const writer = backgroundWriter(client, 'restart', acknowledged, failures);
      const switched = await cluster.runCli(['switch', '1', ...cluster.targetFlags]);
      assert.equal(switched.code, 0, switched.stderr);
      await cluster.stopPart('coordinator', 'SIGKILL');
      await cluster.startCoordinator([], 'coordinator-2');
      const settled = await waitFor('shard 1 to take writes again', () => {
        const now = route(cluster.latestRouting(), 1);
        return now && now.writes === 'open' && cluster.routing.length > tablesBefore ? now : undefined;
      }, 30_000, () => cluster.logs());
      await writer.stop();
      // Give the new coordinator a moment in which a duplicate switch would show up.
      const versionSettled = cluster.latestRouting()!.version;
      await waitFor('a later routing table or 2 s', async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        return true;
      });
      const primaries = cluster.routing.slice(tablesBefore).map((t) => route(t, 1)?.primary).filter((p, i, all) => p !== all[i - 1]);
      assert.ok(primaries.length <= 2, `shard 1 changed primary at most once: ${primaries.join(' -> ')}`);
      assert.equal(route(cluster.latestRouting(), 1)!.primary, settled.primary, `no switch after the table settled at version ${versionSettled}`);
      const second = storedIncidents(cluster).filter((i) => i.shard === 1 && i.kind === 'planned-switch' && i.id.startsWith('inc-g2-'));
      assert.deepEqual(second, [], 'the new coordinator started no planned switch');
      // The new coordinator first waits out the agents' command age (5 s) and reconciles: a pause past
      // the gateway's maxPauseMs (5 s) is answered UNAVAILABLE with retryAfterMs (DESIGN §5.1), and
      // those writes were never acknowledged. Nothing else may fail.
      assert.deepEqual(failures.filter((f) => !/: UNAVAILABLE /.test(f)), [], 'no error but UNAVAILABLE past the pause bound');
      assert.deepEqual(await readBack(client, acknowledged), [], 'every acknowledged write reads back');
      process.stdout.write(`# ${name}: after a coordinator restart shard 1 went ${before.primary}@${before.epoch} -> ${settled.primary}@${settled.epoch}\n`);
    });
  });
}

/**
 * Two nodes, one shadow per shard: the old primary is the only other copy, so a planned switch must
 * keep it as the new primary's shadow (src/coordinator/promotion.ts, `keptAsShadow`); dropped, it
 * would leave no shadow to acknowledge writes, and every write would fail. Writes acknowledged after
 * the switch prove the old primary follows the new one, since each needs a shadow's acknowledgement.
 */
function twoNodeScenario(name: string, skip: string | false, broker: 'embedded' | 'mosquitto'): void {
  describe(`planned switch of a two-node cluster on ${name}`, { skip }, () => {
    const cluster = new E2eCluster({ label: `${name}-two`, broker });
    let client: ForeshardClient;
    const acknowledged = new Map<string, string>();

    before(async () => {
      client = await startSwitchCluster(cluster, ['n1', 'n2'], 1, 1);
    });

    after(async () => {
      await client?.close();
      await cluster.stop();
    });

    test('the old primary stays as the only shadow and acknowledges the new primary\'s writes', async () => {
      const before = route(cluster.latestRouting(), 0)!;
      const failures: string[] = [];
      const writer = backgroundWriter(client, 'two', acknowledged, failures);
      await waitFor('writes under way', () => acknowledged.size > 100);
      const switched = await cluster.runCli(['switch', '0', ...cluster.targetFlags]);
      assert.equal(switched.code, 0, switched.stderr);
      const after = await waitFor('routing to point at the new primary', () => {
        const now = route(cluster.latestRouting(), 0);
        return now && now.primary !== before.primary && now.writes === 'open' ? now : undefined;
      }, 20_000, () => cluster.logs());
      const atSwitch = acknowledged.size;
      await waitFor('writes acknowledged after the switch', () => acknowledged.size > atSwitch + 200, 20_000, () => cluster.logs());
      await writer.stop();
      assert.deepEqual([after.primary, after.shadows, after.epoch], [before.shadows[0], [before.primary], before.epoch + 1], 'the shadow leads; the old primary is its shadow');
      assert.deepEqual(failures, [], 'clients see a pause, not errors');
      assert.deepEqual(await readBack(client, acknowledged), [], 'every acknowledged write reads back');
      await waitFor('the incident file', () => storedIncidents(cluster).some((i) => i.shard === 0 && i.closedAtMs !== null));
      const incident = storedIncidents(cluster).find((i) => i.shard === 0)!;
      assert.equal(incident.outcome.result, 'switched');
      const routed = incident.timeline.steps.find((step) => step.step === 'routing-updated');
      assert.match(String(routed?.detail), new RegExp(`${before.primary} stays as the only shadow`));
      process.stdout.write(`# ${name}: two-node switch ${before.primary} -> ${after.primary}, ${acknowledged.size - atSwitch} writes acknowledged after it\n`);
    });
  });
}

scenario('aedes', false, 'embedded');
scenario('mosquitto', mosquittoReachable ? false : 'mosquitto not reachable at 127.0.0.1:1883', 'mosquitto');
twoNodeScenario('aedes', false, 'embedded');
twoNodeScenario('mosquitto', mosquittoReachable ? false : 'mosquitto not reachable at 127.0.0.1:1883', 'mosquitto');
