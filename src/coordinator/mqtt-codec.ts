/**
 * Translations between the decision core's messages (src/coordinator/types.ts) and the wire formats
 * (src/protocol/). The core and the protocol describe the same things; where they differ in shape,
 * this is the one place that says how:
 * - routing: the wire adds `shardCount` and spells an unavailable shard `writes: "unavailable"`;
 * - commands: `follow` carries the primary's data port, which the coordinator knows from its birth;
 * - incidents: the core's record (also the file on disk) becomes the `incident/<id>` payload of §5.2.
 *
 * @module
 */
import type {
  CommandBody,
  CommandResult,
  ExplanationEntry,
  Incident as WireIncident,
  IncidentOutcome as WireOutcome,
  RoutingTable,
  ShardRoute,
} from '../protocol/index.js';
import type { Incident, IncidentResult } from './incidents/incident.js';
import type { CommandMessage, CommandResultMessage, RoutingMessage, RoutingShard } from './types.js';

/** Looks up a node's data port URL (from its birth), or undefined. */
export type DataUrlOf = (node: string) => string | undefined;

/** The wire form of the core's routing table; nodes without a known data port keep the core's URL. */
export function toWireRouting(message: RoutingMessage, dataUrlOf: DataUrlOf): RoutingTable {
  const shards = message.shards.map((shard) => toWireRoute(shard, dataUrlOf));
  const shardCount = shards.reduce((max, shard) => Math.max(max, shard.id + 1), 0);
  return { version: message.version, ts: message.ts, shardCount, shards };
}

function toWireRoute(shard: RoutingShard, dataUrlOf: DataUrlOf): ShardRoute {
  const named = shard.primary === null ? shard.shadows : [shard.primary, ...shard.shadows];
  const dataUrls: Record<string, string> = {};
  for (const node of named) {
    const url = shard.dataUrls[node] || dataUrlOf(node);
    if (url) dataUrls[node] = url;
  }
  return {
    id: shard.id,
    epoch: shard.epoch,
    primary: shard.primary,
    // A node whose data port nobody knows cannot be routed to: it is left out of the wire entry.
    shadows: shard.shadows.filter((node) => dataUrls[node] !== undefined),
    writes: shard.available ? shard.writes : 'unavailable',
    dataUrls,
    available: shard.available,
    extraShadows: shard.extraShadows.filter((node) => dataUrls[node] !== undefined),
    recovering: [...shard.recovering],
    ...(shard.created === false ? { created: false } : {}),
  };
}

/** The core's form of a retained routing table (tables of older coordinators lack the additions). */
export function fromWireRouting(table: RoutingTable): RoutingMessage {
  return {
    version: table.version,
    ts: table.ts,
    shards: table.shards.map((route) => ({
      id: route.id,
      epoch: route.epoch,
      primary: route.primary,
      shadows: [...route.shadows],
      writes: route.writes === 'open' ? 'open' : 'paused',
      dataUrls: { ...route.dataUrls },
      available: route.available ?? route.writes !== 'unavailable',
      extraShadows: [...(route.extraShadows ?? [])],
      recovering: [...(route.recovering ?? [])],
      ...(route.created === false ? { created: false as const } : {}),
    })),
  };
}

/** The wire form of a core command (unsigned), or null when a `follow` names a primary of unknown data port. */
export function toWireCommand(command: CommandMessage, dataUrlOf: DataUrlOf): CommandBody | null {
  const args = { ...command.args } as Record<string, unknown>;
  if (command.type === 'follow') {
    const url = dataUrlOf(String(args.primary));
    if (url === undefined) return null;
    args.dataUrl = url;
  }
  return { ...command, args } as unknown as CommandBody;
}

/** The core's form of a command result (the wire's `ts` is not needed). */
export function fromWireResult(result: CommandResult): CommandResultMessage {
  const message: CommandResultMessage = { cmdId: result.cmdId, ok: result.ok };
  if (result.result !== undefined) message.result = result.result;
  if (result.error !== undefined) {
    message.error = { code: result.error.code, message: result.error.message, ...(result.error.epoch === undefined ? {} : { epoch: result.error.epoch }) };
  }
  return message;
}

const wireOutcomes: Record<IncidentResult, WireOutcome> = {
  open: 'in-progress',
  switched: 'completed',
  'failed-over': 'completed',
  adopted: 'completed',
  reopened: 'aborted',
  abandoned: 'aborted',
  unavailable: 'failed',
};

/** The `incident/<id>` payload of an incident. */
export function toWireIncident(incident: Incident): WireIncident {
  const manual = incident.kind === 'planned-switch' && incident.reason === 'requested by operator';
  const last = incident.timeline.scores.at(-1);
  const wire: WireIncident = {
    id: incident.id,
    kind: manual ? 'manual-switch' : incident.kind,
    outcome: wireOutcomes[incident.outcome.result],
    ts: incident.openedAtMs,
    shard: incident.shard,
    fromEpoch: incident.epochBefore,
    rootCause: {
      summary: incident.outcome.detail ? `${incident.reason}; ${incident.outcome.detail}` : incident.reason,
      ...(last ? { score: last.p } : {}),
      top: incident.drivers.slice(0, 16).map(toExplanation),
    },
    scores: incident.timeline.scores.map((s) => ({ ts: s.ts, p: s.p })),
    timeline: incident.timeline.steps.map((step) => {
      const detail = [step.node && `node ${step.node}`, step.cmdId && `cmd ${step.cmdId}`, step.detail].filter(Boolean).join(', ');
      return detail ? { ts: step.atMs, event: step.step, detail } : { ts: step.atMs, event: step.step };
    }),
  };
  if (incident.fromNode !== null) wire.fromNode = incident.fromNode;
  if (incident.toNode !== null) wire.toNode = incident.toNode;
  if (incident.epochAfter !== null) wire.toEpoch = incident.epochAfter;
  if (incident.closedAtMs !== null) wire.closedTs = incident.closedAtMs;
  if (incident.outcome.result !== 'open') wire.result = incident.outcome.result;
  if (incident.outcome.nodeFailedWithinHorizon !== null) wire.nodeFailedWithinHorizon = incident.outcome.nodeFailedWithinHorizon;
  if (incident.outcome.breachedWithinHorizon !== null) wire.breachedWithinHorizon = incident.outcome.breachedWithinHorizon;
  const { shard, node } = incident.features;
  if (shard !== null || node !== null) wire.features = { ...(shard ? { shard } : {}), ...(node ? { node } : {}) };
  return wire;
}

function toExplanation(driver: Incident['drivers'][number]): ExplanationEntry {
  const entry: ExplanationEntry = {
    series: driver.series,
    value: driver.value,
    forecast: driver.forecast,
    lower: driver.lower ?? driver.forecast,
    upper: driver.upper ?? driver.forecast,
    threshold: driver.threshold,
    share: driver.share,
  };
  if (driver.forecastS !== undefined) entry.forecastS = driver.forecastS;
  if (driver.direction !== undefined) entry.direction = driver.direction;
  if (driver.breachProbability !== undefined) entry.breachProbability = driver.breachProbability;
  if (driver.anomalyLikelihood !== undefined) entry.anomalyLikelihood = driver.anomalyLikelihood;
  return entry;
}
