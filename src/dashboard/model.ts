/**
 * The dashboard's cluster model, built only from what the cluster publishes on MQTT (DESIGN.md §5.2):
 * births and wills, metrics, scores with their explanations, the retained routing table and
 * incidents. It knows nothing of the coordinator's internals, so it shows any foreshard cluster.
 *
 * Every collection is bounded by a named limit (nodes, history points per series, incidents, switch
 * timeline entries, the parts of an incident kept), because the dashboard runs for weeks and its
 * inputs come from the network. The model is pure: `apply*` methods take decoded messages and a
 * receive time; the MQTT wiring and the drop counting live in view.ts.
 */
import type { CoordinatorState, ExplainedProbability, ExplanationEntry, Incident, Metrics, NodeState, RoutingTable, Score, ShardRoute, WritesState } from '../protocol/index.js';
import { PointRing, type ScorePoint } from './history.js';

/** Score points kept per node and per shard (10 minutes at the default 1 s sampling). */
export const MAX_HISTORY_POINTS = 600;
/** Incidents kept, newest first. */
export const MAX_INCIDENTS = 100;
/** Switch timeline entries kept, newest first. */
export const MAX_TIMELINE_ENTRIES = 500;
/** Nodes tracked; messages naming further nodes are ignored and counted. */
export const MAX_TRACKED_NODES = 1024;
/** Shards with a score history; a cluster with more shards charts the first ones reported. */
export const MAX_SHARD_HISTORIES = 4096;
/** Score samples kept from each incident's history (the newest ones). */
export const MAX_INCIDENT_SCORES_KEPT = 300;
/** Timeline events kept from each incident (the first ones: how it started matters most). */
export const MAX_INCIDENT_EVENTS_KEPT = 100;

/** What the dashboard knows of a node. */
export interface NodeView {
  id: string;
  /** `unknown`: named by routing or a score, but no birth or will seen yet. */
  state: 'online' | 'offline' | 'unknown';
  session: string | null;
  profile: string | null;
  version: string | null;
  dataUrl: string | null;
  /** When the state last changed (receive time). */
  stateSince: number | null;
  /** When anything last arrived from this node (receive time). */
  lastSeen: number | null;
  score: { ts: number; horizonS: number; p: number; top: ExplanationEntry[] } | null;
  metrics: Metrics | null;
}

/** What the dashboard knows of a shard. */
export interface ShardView {
  id: number;
  epoch: number;
  primary: string | null;
  shadows: string[];
  writes: WritesState;
  /** Replication lag per node in ms, where a score explanation or metrics reported it. */
  lags: Record<string, number>;
  /** The rollback score as reported by the primary (or, without one, the highest report). */
  score: { ts: number; p: number; node: string; top: ExplanationEntry[] } | null;
}

/** One entry of the switch timeline. */
export interface TimelineEntry {
  /** When it happened (routing table or incident time). */
  ts: number;
  /** `switch`: new primary; `epoch`: same primary, new epoch; `writes`: writes paused/opened; `incident`: an incident was published. */
  kind: 'switch' | 'epoch' | 'writes' | 'incident';
  shard: number | null;
  fromNode: string | null;
  toNode: string | null;
  fromEpoch: number | null;
  toEpoch: number | null;
  detail: string;
}

/** The parts of the model that change often, without the score histories. */
export interface DashboardSummary {
  cluster: string;
  /** The dashboard's clock, so a browser can judge how old `lastSeen` is. */
  now: number;
  rev: number;
  connected: boolean;
  coordinator: (CoordinatorState & { receivedAt: number }) | null;
  routing: { version: number; ts: number; shardCount: number } | null;
  nodes: NodeView[];
  shards: ShardView[];
  incidents: Incident[];
  timeline: TimelineEntry[];
  drops: { total: number; byReason: Record<string, number>; byKind: Record<string, number> };
}

/** Score histories by node id and by shard id. */
export interface DashboardHistory {
  nodes: Record<string, ScorePoint[]>;
  shards: Record<string, ScorePoint[]>;
}

/** The whole model, as `GET /api/state` returns it. */
export interface DashboardSnapshot extends DashboardSummary {
  history: DashboardHistory;
}

/** What changed since a revision: the summary plus the new history points. */
export interface DashboardDelta extends DashboardSummary {
  since: number;
  points: DashboardHistory;
}

const LAG_SERIES = /^shard\.(\d+)\.replication_lag_ms$/;

function pointFrom(probability: ExplainedProbability, ts: number, node: string, rev: number): ScorePoint {
  const top = probability.top[0];
  const point: ScorePoint = { ts, p: probability.p, node, rev };
  if (top) Object.assign(point, { series: top.series, value: top.value, forecast: top.forecast, lower: top.lower, upper: top.upper, threshold: top.threshold }, top.forecastS === undefined ? {} : { forecastS: top.forecastS });
  return point;
}

/** Keeps the newest scores and the first timeline events of an incident, so one incident stays small. */
function trimIncident(incident: Incident): Incident {
  return { ...incident, scores: incident.scores.slice(-MAX_INCIDENT_SCORES_KEPT), timeline: incident.timeline.slice(0, MAX_INCIDENT_EVENTS_KEPT) };
}

/** The cluster model; see the module comment. */
export class ClusterModel {
  private readonly nodes = new Map<string, NodeView>();
  private readonly shards = new Map<number, ShardView>();
  /** Every node's latest report of each shard's score: shard → node → report. */
  private readonly shardReports = new Map<number, Map<string, { ts: number; p: number; top: ExplanationEntry[] }>>();
  private readonly nodeHistory = new Map<string, PointRing>();
  private readonly shardHistory = new Map<number, PointRing>();
  private incidents: Incident[] = [];
  private timeline: TimelineEntry[] = [];
  private routing: RoutingTable | null = null;
  private coordinator: DashboardSummary['coordinator'] = null;
  private revision = 0;
  /** Messages ignored because they named a node past {@link MAX_TRACKED_NODES}, or an older routing version. */
  readonly ignored = { nodesOverLimit: 0, staleRouting: 0, shardHistoriesOverLimit: 0 };

  constructor(
    readonly cluster: string,
    readonly historyPoints: number = MAX_HISTORY_POINTS,
  ) {}

  /** Bumped on every change; the server pushes when it moves. */
  get rev(): number {
    return this.revision;
  }

  /** The node entry for `id`, created on first sight; undefined past {@link MAX_TRACKED_NODES}. */
  private node(id: string): NodeView | undefined {
    let node = this.nodes.get(id);
    if (node) return node;
    if (this.nodes.size >= MAX_TRACKED_NODES) {
      this.ignored.nodesOverLimit++;
      return undefined;
    }
    node = { id, state: 'unknown', session: null, profile: null, version: null, dataUrl: null, stateSince: null, lastSeen: null, score: null, metrics: null };
    this.nodes.set(id, node);
    return node;
  }

  /** A birth or a will on `node/<id>/state`. A will naming another session than the live one is stale and ignored. */
  applyNodeState(id: string, state: NodeState, receivedAt: number): void {
    const node = this.node(id);
    if (!node) return;
    if (state.state === 'offline' && node.state === 'online' && node.session !== null && node.session !== state.session) return;
    if (state.state === 'online') Object.assign(node, { profile: state.profile, version: state.version, dataUrl: state.dataUrl });
    if (node.state !== state.state || node.session !== state.session) node.stateSince = receivedAt;
    node.state = state.state;
    node.session = state.session;
    node.lastSeen = receivedAt;
    this.revision++;
  }

  /** A metrics sample: kept as the node's latest, and any per-shard lag series taken as that shard's lag on this node. */
  applyMetrics(id: string, metrics: Metrics, receivedAt: number): void {
    const node = this.node(id);
    if (!node) return;
    node.metrics = metrics;
    node.lastSeen = receivedAt;
    for (const [series, value] of Object.entries(metrics.series)) this.noteLag(series, id, value);
    this.revision++;
  }

  private noteLag(series: string, node: string, value: number): void {
    const match = LAG_SERIES.exec(series);
    const shard = match ? this.shards.get(Number(match[1])) : undefined;
    if (shard) shard.lags[node] = value;
  }

  /** A score: the node's failure probability, and each shard's rollback score as this node sees it. */
  applyScore(id: string, score: Score, receivedAt: number): void {
    const node = this.node(id);
    if (!node) return;
    this.revision++;
    node.score = { ts: score.ts, horizonS: score.horizonS, p: score.node.p, top: score.node.top };
    node.lastSeen = receivedAt;
    this.ring(this.nodeHistory, id).push(pointFrom(score.node, score.ts, id, this.revision));
    for (const [key, probability] of Object.entries(score.shards)) {
      const shardId = Number(key);
      let reports = this.shardReports.get(shardId);
      if (!reports) this.shardReports.set(shardId, (reports = new Map()));
      reports.set(id, { ts: score.ts, p: probability.p, top: probability.top });
      for (const entry of probability.top) this.noteLag(entry.series, id, entry.value);
      const shard = this.shards.get(shardId);
      // A shard's chart follows its primary; before routing is known, any holder's report counts.
      if (!shard || shard.primary === id) this.shardRing(shardId)?.push(pointFrom(probability, score.ts, id, this.revision));
      if (shard) this.refreshShardScore(shard);
    }
  }

  private ring<K>(map: Map<K, PointRing>, key: K): PointRing {
    let ring = map.get(key);
    if (!ring) map.set(key, (ring = new PointRing(this.historyPoints)));
    return ring;
  }

  private shardRing(shard: number): PointRing | undefined {
    if (!this.shardHistory.has(shard) && this.shardHistory.size >= MAX_SHARD_HISTORIES) {
      this.ignored.shardHistoriesOverLimit++;
      return undefined;
    }
    return this.ring(this.shardHistory, shard);
  }

  private refreshShardScore(shard: ShardView): void {
    const reports = this.shardReports.get(shard.id);
    if (!reports || reports.size === 0) return;
    const fromPrimary = shard.primary === null ? undefined : reports.get(shard.primary);
    let chosen: [string, { ts: number; p: number; top: ExplanationEntry[] }] | undefined = fromPrimary && shard.primary ? [shard.primary, fromPrimary] : undefined;
    if (!chosen) for (const entry of reports) if (!chosen || entry[1].p > chosen[1].p) chosen = entry;
    if (chosen) shard.score = { node: chosen[0], ...chosen[1] };
  }

  /** The retained routing table: shards replaced, and every primary, epoch or writes change added to the timeline. */
  applyRouting(table: RoutingTable): void {
    if (this.routing && table.version < this.routing.version) {
      this.ignored.staleRouting++;
      return;
    }
    const previous = this.routing ? new Map(this.routing.shards.map((route) => [route.id, route])) : undefined;
    this.routing = table;
    this.revision++;
    const seen = new Set<number>();
    for (const route of table.shards) {
      seen.add(route.id);
      if (previous) this.recordRouteChange(table.ts, previous.get(route.id), route);
      const old = this.shards.get(route.id);
      const shard: ShardView = { id: route.id, epoch: route.epoch, primary: route.primary, shadows: [...route.shadows], writes: route.writes, lags: {}, score: null };
      for (const node of [route.primary, ...route.shadows]) if (node !== null && old?.lags[node] !== undefined) shard.lags[node] = old.lags[node]!;
      this.shards.set(route.id, shard);
      for (const node of [route.primary, ...route.shadows]) if (node !== null) this.node(node);
      this.refreshShardScore(shard);
    }
    for (const id of [...this.shards.keys()]) if (!seen.has(id)) this.shards.delete(id);
  }

  private recordRouteChange(ts: number, before: ShardRoute | undefined, after: ShardRoute): void {
    const base = { ts, shard: after.id, fromNode: before?.primary ?? null, toNode: after.primary, fromEpoch: before?.epoch ?? null, toEpoch: after.epoch };
    // Writes first: the list is newest first, and the switch should read above the writes reopening with it.
    if (before && before.writes !== after.writes) this.addTimeline({ ...base, kind: 'writes', detail: `writes ${before.writes} → ${after.writes}` });
    if (before && before.primary !== after.primary) {
      this.addTimeline({ ...base, kind: 'switch', detail: `primary ${before.primary ?? 'none'} → ${after.primary ?? 'none'}, epoch ${before.epoch} → ${after.epoch}` });
    } else if (before && before.epoch !== after.epoch) {
      this.addTimeline({ ...base, kind: 'epoch', detail: `epoch ${before.epoch} → ${after.epoch} on ${after.primary ?? 'no primary'}` });
    }
  }

  private addTimeline(entry: TimelineEntry): void {
    this.timeline.unshift(entry);
    if (this.timeline.length > MAX_TIMELINE_ENTRIES) this.timeline.length = MAX_TIMELINE_ENTRIES;
  }

  /** An incident: a new one goes first (and onto the timeline); an update of a known one replaces it in place. */
  applyIncident(incident: Incident): void {
    this.revision++;
    const trimmed = trimIncident(incident);
    const index = this.incidents.findIndex((known) => known.id === incident.id);
    if (index >= 0) {
      this.incidents[index] = trimmed;
      return;
    }
    this.incidents.unshift(trimmed);
    this.incidents.sort((a, b) => b.ts - a.ts);
    if (this.incidents.length > MAX_INCIDENTS) this.incidents.length = MAX_INCIDENTS;
    const moved = incident.fromNode !== undefined || incident.toNode !== undefined;
    this.addTimeline({
      ts: incident.ts,
      kind: 'incident',
      shard: incident.shard ?? null,
      fromNode: incident.fromNode ?? null,
      toNode: incident.toNode ?? null,
      fromEpoch: incident.fromEpoch ?? null,
      toEpoch: incident.toEpoch ?? null,
      detail: `${incident.kind} ${incident.id}${moved ? ` (${incident.fromNode ?? '?'} → ${incident.toNode ?? '?'})` : ''}: ${incident.rootCause.summary}`,
    });
    this.timeline.sort((a, b) => b.ts - a.ts);
  }

  /** The coordinator's birth or will. */
  applyCoordinatorState(state: CoordinatorState, receivedAt: number): void {
    this.coordinator = { ...state, receivedAt };
    this.revision++;
  }

  /** Everything but the histories; `connected` and `drops` come from the MQTT side. */
  summary(connected: boolean, drops: DashboardSummary['drops'], now: number = Date.now()): DashboardSummary {
    return {
      cluster: this.cluster,
      now,
      rev: this.revision,
      connected,
      coordinator: this.coordinator,
      routing: this.routing ? { version: this.routing.version, ts: this.routing.ts, shardCount: this.routing.shardCount } : null,
      nodes: [...this.nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
      shards: [...this.shards.values()].sort((a, b) => a.id - b.id),
      incidents: this.incidents,
      timeline: this.timeline,
      drops,
    };
  }

  /** Score histories: all of them, or only the points added after revision `since`. */
  history(since?: number): DashboardHistory {
    const pick = (ring: PointRing): ScorePoint[] => (since === undefined ? ring.toArray() : ring.since(since));
    const out: DashboardHistory = { nodes: {}, shards: {} };
    for (const [id, ring] of this.nodeHistory) {
      const points = pick(ring);
      if (points.length > 0) out.nodes[id] = points;
    }
    for (const [id, ring] of this.shardHistory) {
      const points = pick(ring);
      if (points.length > 0) out.shards[String(id)] = points;
    }
    return out;
  }
}
