/**
 * `npm run bench -- coordinator`: decision time per score update of the coordinator core at scale
 * (1,000 nodes, 10,000 shards), next to a peer measured in the same run: the same streak check done
 * by scanning every shard of the routing table per score, as a core without the by-node index would.
 * Then the cost of one decision tick (every 200 ms by default) at 10,000 and 100,000 shards, quiet
 * and with a dead node's failovers in flight, next to a peer that only visits every shard once, as a
 * tick that walked the whole table would at least.
 */
import { CoordinatorCore } from '../src/coordinator/coordinator.js';
import { nextStreak } from '../src/coordinator/decisions.js';
import { CounterIds, type RoutingShard, type ScoreMessage } from '../src/coordinator/types.js';
import { median, secondsPerCall, table } from './lib/stats.js';

const nodeCount = 1000;
const shardCount = 10_000;
const rounds = 5;

function buildCore(nodeCount: number, shardCount: number): { core: CoordinatorCore; nodes: string[]; nowMs: number } {
  const core = new CoordinatorCore({ ids: new CounterIds('bench'), startMs: 0, generation: 1, options: { rebalance: false, preReplicate: false, reportIntervalMs: 0 } });
  const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i}`);
  const shards: RoutingShard[] = Array.from({ length: shardCount }, (_, id) => ({
    id, epoch: 1, primary: nodes[id % nodeCount]!, shadows: [nodes[(id + 1) % nodeCount]!], writes: 'open', dataUrls: {}, available: true, extraShadows: [], recovering: [],
  }));
  core.handle({ kind: 'routing', message: { version: 1, ts: 0, shards } }, 0);
  for (const node of nodes) core.handle({ kind: 'node-state', node, message: { state: 'online', session: `${node}-1`, ts: 0, version: 'bench', profile: 'bench', dataUrl: '' } }, 0);
  // Recovery: wait out commandMaxAgeMs, then answer the coordinator's replica reports as agents would.
  const holdMs = core.options.commandMaxAgeMs;
  // Every node has sent a score by then, or the heartbeat sweep would take them all for down.
  for (const node of nodes) core.handle({ kind: 'score', node, message: scoreFor(node, [], holdMs - 1) }, holdMs - 1);
  const asked = core.handle({ kind: 'tick' }, holdMs);
  for (const intent of asked) {
    if (intent.kind !== 'send-command' || intent.command.type !== 'report') continue;
    const replicas = [...core.routing.shardsOn(intent.node)].map((id) => {
      const route = core.routing.get(id)!;
      return { shard: id, role: route.primary === intent.node ? 'primary' as const : 'shadow' as const, epoch: 1, receivedLsn: 0, appliedLsn: 0 };
    });
    core.handle({ kind: 'cmd-result', node: intent.node, message: { cmdId: intent.command.cmdId, ok: true, result: { replicas } } }, holdMs + 2);
  }
  core.handle({ kind: 'tick' }, holdMs + 3);
  const busy = shards.filter((shard) => core.operationOf(shard.id) !== null).length;
  if (!core.isRunning || busy > 0) throw new Error(`bench: the core did not recover into a quiet cluster (${busy} shards busy)`);
  return { core, nodes, nowMs: holdMs + 4 };
}

function scoreFor(node: string, shards: readonly number[], ts: number): ScoreMessage {
  const entries: ScoreMessage['shards'] = {};
  for (const id of shards) entries[String(id)] = { p: 0.1, top: [] };
  return { ts, horizonS: 60, node: { p: 0.1, top: [] }, shards: entries };
}

/** Runs the benchmark. */
export async function run(): Promise<void> {
  scoreUpdates();
  ticks();
}

function scoreUpdates(): void {
  const { core, nodes, nowMs } = buildCore(nodeCount, shardCount);
  const shardsOf = nodes.map((node) => [...core.routing.shardsOn(node)]);
  const messages = nodes.map((node, i) => scoreFor(node, shardsOf[i]!, 0));
  let ts = nowMs;
  let index = 0;
  const ours: number[] = [];
  const peer: number[] = [];
  const streaks = new Map<number, number>();
  for (let round = 0; round < rounds; round++) {
    ours.push(secondsPerCall(() => {
      const i = index++ % nodeCount;
      messages[i]!.ts = ts++;
      core.handle({ kind: 'score', node: nodes[i]!, message: messages[i]! }, ts);
    }));
    peer.push(secondsPerCall(() => {
      const i = index++ % nodeCount;
      const message = messages[i]!;
      for (const id of core.routing.ids()) {
        const route = core.routing.get(id)!;
        if (route.primary !== nodes[i]) continue;
        const entry = message.shards[String(id)];
        if (entry) streaks.set(id, nextStreak(streaks.get(id) ?? 0, entry.p, 0.8));
      }
    }));
  }
  const oursUs = median(ours) * 1e6;
  const peerUs = median(peer) * 1e6;
  console.log(table([
    ['decision per score update', 'µs (median of rounds)', 'ratio to peer'],
    ['core (index by node)', oursUs, oursUs / peerUs],
    ['peer (scan all shards)', peerUs, 1],
  ]));
  console.log(`${nodeCount} nodes, ${shardCount} shards, ${shardCount / nodeCount} primaries per node; median of ${rounds} rounds`);
}

/** One tick's cost, quiet and with one dead node's shards failing over, next to one visit of every shard. */
function ticks(): void {
  const rows: (string | number)[][] = [['decision tick', 'µs (median of rounds)', 'ratio to peer']];
  for (const shards of [10_000, 100_000]) {
    const { core, nodes, nowMs } = buildCore(nodeCount, shards);
    // Every node has just sent a score, and the clock stands still, so no node falls silent while the ticks are timed.
    const ts = nowMs;
    for (const node of nodes) core.handle({ kind: 'score', node, message: scoreFor(node, [], ts) }, ts);
    const tick = (): void => { core.handle({ kind: 'tick' }, ts); };
    const quiet = median(Array.from({ length: rounds }, () => secondsPerCall(tick)));
    // A node dies: its primaries fail over (their commands to the dead node go nowhere, so they stay in flight).
    core.handle({ kind: 'node-state', node: nodes[0]!, message: { state: 'offline', session: `${nodes[0]}-1` } }, ts);
    const inFlight = [...core.routing.shardsOn(nodes[0]!)].filter((id) => core.operationOf(id)?.kind === 'failover').length;
    const busy = median(Array.from({ length: rounds }, () => secondsPerCall(tick)));
    const peer = median(Array.from({ length: rounds }, () => secondsPerCall(() => {
      let open = 0;
      for (const id of core.routing.ids()) if (core.routing.get(id)!.writes === 'open') open++;
      if (open < 0) throw new Error('unreachable');
    })));
    rows.push([`core, ${shards} shards, quiet`, quiet * 1e6, quiet / peer]);
    rows.push([`core, ${shards} shards, ${inFlight} failovers in flight`, busy * 1e6, busy / peer]);
    rows.push([`peer (visit every shard), ${shards} shards`, peer * 1e6, 1]);
  }
  console.log(table(rows));
  console.log(`${nodeCount} nodes; a tick runs every 200 ms by default (--tick-ms)`);
}
