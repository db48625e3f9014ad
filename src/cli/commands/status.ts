/**
 * `foreshard status`: the nodes and shards of a running cluster, read from MQTT only (retained
 * births and routing, then the next scores), so it works for a local `up` cluster and for any other
 * cluster alike. With `--data-dir` it also shows each local agent's pid from cluster.json.
 */
import { OperatingError, UsageError, type Command, type OptionSpec, type ParsedOptions } from '../command.js';
import { clusterTargetOptions, readClusterState, withRecordedLogin, type LocalClusterState } from '../cluster-target.js';
import { mqttAuthFlags, mqttLogin, mqttTlsFlags } from '../mqtt-flags.js';
import { numberOption } from '../parse.js';
import { DashboardError, startClusterView, type ClusterView, type DashboardSummary } from '../../dashboard/index.js';
import { createLogger } from '../../common/log.js';
import type { MqttLogin } from '../../common/mqtt-login.js';

/** How long retained state (routing, births) gets to arrive after subscribing. */
export const STATUS_RETAINED_SETTLE_MS = 1000;
/** Default wait for every online node's next score (one sample interval at the default profile, plus slack). */
export const STATUS_SCORE_WAIT_MS = 2000;
/** Limit for reaching the broker. */
export const STATUS_CONNECT_TIMEOUT_MS = 3000;

/** Where a read-only command finds a cluster: `--broker` wins, else `--data-dir`'s cluster.json. No signing key is needed to read. */
export interface ReadTarget {
  cluster: string;
  brokerUrl: string;
  login: MqttLogin;
  local?: LocalClusterState;
}

/** The target options of read-only commands (`status`, `dashboard`): no signing key. */
export const readTargetOptions: Record<string, OptionSpec> = {
  'data-dir': clusterTargetOptions['data-dir']!,
  broker: clusterTargetOptions.broker!,
  cluster: clusterTargetOptions.cluster!,
  ...mqttAuthFlags,
  ...mqttTlsFlags,
};

/** Resolves {@link readTargetOptions}. */
export function resolveReadTarget(options: ParsedOptions): ReadTarget {
  if (typeof options.broker === 'string') return { cluster: String(options.cluster ?? 'default'), brokerUrl: options.broker, login: mqttLogin(options) };
  const local = readClusterState(String(options['data-dir'] ?? './.foreshard'));
  return { cluster: local.cluster, brokerUrl: local.brokerUrl, local, login: mqttLogin(withRecordedLogin(options, local)) };
}

/** A node line of `status`. */
export interface StatusNode {
  id: string;
  /** The agent's pid when `foreshard up` started it on this machine, else null. */
  pid: number | null;
  state: 'online' | 'offline' | 'unknown';
  /** The node's latest failure probability, or null before its first score. */
  score: number | null;
}

/** A shard line of `status`. */
export interface StatusShard {
  id: number;
  epoch: number;
  primary: string | null;
  shadows: string[];
  writes: string;
  /** The rollback score its primary reported, or null. */
  score: number | null;
  /** Replication lag per node in ms, where reported. */
  lags: Record<string, number>;
}

/** The `--json` output: exactly these two keys. */
export interface StatusReport {
  nodes: StatusNode[];
  shards: StatusShard[];
}

/** Builds the report from a view's summary and the local state file (for pids and agents not yet seen). */
export function statusReport(summary: DashboardSummary, local?: LocalClusterState): StatusReport {
  const pids = new Map((local?.agents ?? []).map((agent) => [agent.node, agent.pid]));
  const nodes: StatusNode[] = summary.nodes.map((node) => ({ id: node.id, pid: pids.get(node.id) ?? null, state: node.state, score: node.score?.p ?? null }));
  for (const [id, pid] of pids) if (!nodes.some((node) => node.id === id)) nodes.push({ id, pid, state: 'unknown', score: null });
  nodes.sort((a, b) => a.id.localeCompare(b.id));
  const shards: StatusShard[] = summary.shards.map((shard) => ({
    id: shard.id,
    epoch: shard.epoch,
    primary: shard.primary,
    shadows: shard.shadows,
    writes: shard.writes,
    score: shard.score?.p ?? null,
    lags: shard.lags,
  }));
  return { nodes, shards };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for retained state, then until every online node has a score or `scoreWaitMs` has passed. */
async function collect(view: ClusterView, scoreWaitMs: number): Promise<void> {
  await sleep(STATUS_RETAINED_SETTLE_MS);
  const deadline = Date.now() + scoreWaitMs;
  while (Date.now() < deadline) {
    const nodes = view.model.summary(true, { total: 0, byReason: {}, byKind: {} }).nodes;
    if (nodes.length > 0 && nodes.every((node) => node.state !== 'online' || node.score !== null)) return;
    await sleep(100);
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** The human-readable form. */
export function formatStatus(report: StatusReport, summary: DashboardSummary, brokerUrl: string): string {
  const p = (value: number | null): string => (value === null ? '-' : value.toFixed(2));
  const coordinator = summary.coordinator ? `${summary.coordinator.state}${summary.coordinator.state === 'online' ? ` (automation ${summary.coordinator.automation ?? 'running'})` : ''}` : 'unknown';
  const lines = [`cluster ${summary.cluster} · broker ${brokerUrl} · routing ${summary.routing ? `v${summary.routing.version}` : 'none seen'} · coordinator ${coordinator}`, ''];
  lines.push(report.nodes.length === 0 ? 'no nodes seen' : table([['NODE', 'PID', 'STATE', 'SCORE'], ...report.nodes.map((n) => [n.id, n.pid === null ? '-' : String(n.pid), n.state, p(n.score)])]));
  lines.push('');
  const lags = (shard: StatusShard): string => Object.entries(shard.lags).map(([node, ms]) => `${node} ${Math.round(ms)}ms`).join(', ') || '-';
  lines.push(
    report.shards.length === 0
      ? 'no routing table seen'
      : table([['SHARD', 'EPOCH', 'PRIMARY', 'SHADOWS', 'WRITES', 'SCORE', 'LAGS'], ...report.shards.map((s) => [String(s.id), String(s.epoch), s.primary ?? '-', s.shadows.join(',') || '-', s.writes, p(s.score), lags(s)])]),
  );
  return lines.join('\n') + '\n';
}

/** `foreshard status`. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'show the nodes and shards of a running cluster (--json for machines)',
  usage: '[--json] [--data-dir <dir> | --broker <url> [--cluster <id>]]',
  details: [
    'Reads the retained routing table and births, then waits for each online node\'s next score',
    '(up to --score-wait-ms). Nodes: id, pid (local clusters), state, score. Shards: id, epoch,',
    'primary, shadows, writes, score, lags. --json prints {"nodes": [...], "shards": [...]}.',
  ].join('\n'),
  options: {
    json: { type: 'boolean', description: 'print {"nodes": [...], "shards": [...]} as JSON' },
    'score-wait-ms': { type: 'string', description: 'longest wait for the nodes\' next scores', default: String(STATUS_SCORE_WAIT_MS), valueName: '<ms>' },
    ...readTargetOptions,
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const scoreWaitMs = numberOption(options, 'score-wait-ms', 0, 60_000);
    const target = resolveReadTarget(options);
    const view = startClusterView({
      brokerUrl: target.brokerUrl, cluster: target.cluster, reconnectPeriodMs: 0, connectTimeoutMs: STATUS_CONNECT_TIMEOUT_MS, login: target.login,
      logger: createLogger('status'),
    });
    try {
      await view.ready;
      await collect(view, scoreWaitMs);
      const summary = view.snapshot();
      const report = statusReport(summary, target.local);
      process.stdout.write(options.json === true ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report, summary, target.brokerUrl));
      return 0;
    } catch (error) {
      if (error instanceof DashboardError) throw new OperatingError(error.code, error.message);
      throw error;
    } finally {
      await view.close();
    }
  },
};
