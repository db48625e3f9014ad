/**
 * `foreshard up`: a whole cluster on one machine, each part its own process, all data under one
 * directory (DESIGN.md §1). Running it again on the same directory resumes the same cluster: the
 * same cluster key, node ids, ports and shard replicas.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OperatingError } from '../cli/command.js';
import { CLUSTER_STATE_FILE, processAlive, readClusterState, writeClusterState, type LocalClusterState } from '../cli/cluster-target.js';
import mqtt from 'mqtt';
import type { Logger } from '../common/log.js';
import type { MqttLogin } from '../common/mqtt-login.js';
import { loadProfile } from '../profiles/load.js';
import { startDemoWorkload } from './demo.js';
import { freePort, httpOk, portOpen, waitUntil } from './ports.js';
import { startPart, stopPart, type ManagedProcess } from './processes.js';

/** Options of `foreshard up`. */
export interface UpOptions {
  agents: number;
  shards: number;
  /** Shadows of every shard for a new cluster (default: 2 with three or more agents, else 1). */
  shadows?: number;
  dataDir: string;
  cluster: string;
  profile: string;
  host: string;
  gatewayPort: number;
  dashboardPort: number;
  /** Port of the embedded broker; ignored when `brokerUrl` is set. */
  brokerPort: number;
  /** An external broker; when set, no embedded broker is started. */
  brokerUrl?: string;
  /** The external broker's login, checked before any part starts. */
  brokerLogin?: MqttLogin;
  /**
   * The same login as command-line flags, flag name to value (the user name, absolute file paths,
   * never a password): passed on to every part, and kept in cluster.json for later commands.
   */
  brokerLoginFlags?: Readonly<Record<string, string>>;
  demo: boolean;
  demoOpsPerSecond: number;
  /** How long each part may take to become ready. */
  readyTimeoutMs: number;
}

/** A running local cluster. */
export interface RunningCluster {
  state: LocalClusterState;
  stop(): Promise<void>;
}

const stopGraceMs = 10_000;
/** The agents' MQTT keep-alive under `up` (seconds): the broker publishes a silent agent's will 1.5x after it. */
const LOCAL_AGENT_KEEPALIVE_S = 1;

/** Loads the previous state of `dataDir`, refusing when its `up` is still running. */
function previousState(dataDir: string): LocalClusterState | undefined {
  if (!existsSync(join(dataDir, CLUSTER_STATE_FILE))) return undefined;
  const state = readClusterState(dataDir);
  if (state.supervisorPid > 0 && state.supervisorPid !== process.pid && processAlive(state.supervisorPid)) {
    throw new OperatingError('ALREADY_RUNNING', `a cluster is already running from ${dataDir} (foreshard up, pid ${state.supervisorPid}); stop it with Ctrl-C or kill ${state.supervisorPid}`);
  }
  return state;
}

/** Every part a state file records, with its pid (0 when it never started). */
function recordedParts(state: LocalClusterState): Array<{ name: string; pid: number }> {
  const parts = [
    { name: 'broker', pid: state.broker?.pid ?? 0 },
    ...state.agents.map((agent) => ({ name: agent.node, pid: agent.pid })),
    { name: 'coordinator', pid: state.coordinator?.pid ?? 0 },
    { name: 'dashboard', pid: state.dashboard?.pid ?? 0 },
    { name: 'gateway', pid: state.gateway?.pid ?? 0 },
  ];
  return parts.filter((part) => part.pid > 0);
}

/** True when `pid` is alive and runs foreshard (a recycled pid of another program is left alone). */
function isForeshardProcess(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('foreshard');
  } catch {
    return false;
  }
}

/**
 * Parts a previous `up` left running (its supervisor was killed, so it could not stop them) would
 * hold the ports and the data directories this run needs: they are killed, and said so.
 */
async function killLeftovers(state: LocalClusterState, logger: Logger): Promise<void> {
  const leftovers = recordedParts(state).filter((part) => isForeshardProcess(part.pid));
  for (const part of leftovers) {
    logger.warn(`killing ${part.name} (pid ${part.pid}) left running by a previous foreshard up`);
    process.kill(part.pid, 'SIGKILL');
  }
  if (leftovers.length > 0) await waitUntil(async () => leftovers.every((part) => !processAlive(part.pid)), 5000);
}

/** Refuses to start a part whose port something else already holds, naming both. */
async function ensurePortFree(name: string, url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  if (await portOpen(Number(port), hostname)) {
    throw new OperatingError('PORT_IN_USE', `${name} cannot start: ${hostname}:${port} is already in use by another program (choose other ports or stop it)`);
  }
}

/**
 * Shadows per shard, fixed at creation like the shard count: a resumed cluster keeps what it was
 * created with (clusters created before it was kept have none recorded: the coordinator's default,
 * 1), and `--shadows` may only repeat it. A new cluster gets 2 when it has three or more agents, so a
 * write is acknowledged by the faster of two shadows: with one, a node whose disk slows down also
 * slows every write of the primaries it shadows, and their nodes then score as at risk too (the
 * quick start switched healthy nodes' shards that way), and a shard whose only shadow is at risk
 * has nowhere to switch to.
 */
function shadowsOf(previous: LocalClusterState | undefined, options: UpOptions, dataDir: string): { shadows?: number } {
  if (previous) {
    const kept = previous.shadows ?? 1;
    if (options.shadows !== undefined && options.shadows !== kept) {
      throw new OperatingError('SHADOWS_FIXED', `the cluster in ${dataDir} has ${kept} shadows per shard; it is fixed at creation (drop --shadows or use another --data-dir)`);
    }
    return previous.shadows === undefined ? {} : { shadows: previous.shadows };
  }
  const shadows = options.shadows ?? Math.max(1, Math.min(2, options.agents - 1));
  if (shadows > options.agents - 1) {
    // A write is acknowledged once a shadow has it, so even the default needs a second agent.
    throw new OperatingError('TOO_MANY_SHADOWS', `${shadows} shadow${shadows === 1 ? '' : 's'} per shard need at least ${shadows + 1} agents; ${options.agents} asked for`);
  }
  return { shadows };
}

/** The state for this run: the previous one resumed, or a new cluster laid out. */
async function planState(options: UpOptions, dataDir: string): Promise<LocalClusterState> {
  const previous = previousState(dataDir);
  if (previous && previous.shards !== options.shards) {
    throw new OperatingError('SHARDS_FIXED', `the cluster in ${dataDir} has ${previous.shards} shards; the shard count is fixed at creation (drop --shards or use another --data-dir)`);
  }
  const keyFile = previous?.clusterKeyFile ?? join(dataDir, 'keys', 'cluster.key');
  if (!existsSync(keyFile)) {
    mkdirSync(join(dataDir, 'keys'), { recursive: true });
    writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  }
  const brokerPort = previous && !options.brokerUrl ? Number(new URL(previous.brokerUrl).port) : options.brokerPort;
  const agents = [...(previous?.agents ?? [])];
  for (let index = agents.length; index < options.agents; index++) {
    const node = `node-${index + 1}`;
    agents.push({ node, pid: 0, logFile: join(dataDir, 'logs', `${node}.log`), httpUrl: `http://${options.host}:${await freePort(options.host)}`, dataUrl: `ws://${options.host}:${await freePort(options.host)}` });
  }
  return {
    version: 1,
    cluster: previous?.cluster ?? options.cluster,
    dataDir,
    brokerUrl: options.brokerUrl ?? `mqtt://${options.host}:${brokerPort}`,
    ...(options.brokerUrl && options.brokerLoginFlags && Object.keys(options.brokerLoginFlags).length > 0 ? { mqttLogin: { ...options.brokerLoginFlags } } : {}),
    clusterKeyFile: keyFile,
    gatewayUrl: `ws://${options.host}:${options.gatewayPort}/v1`,
    dashboardUrl: `http://${options.host}:${options.dashboardPort}/`,
    supervisorPid: process.pid,
    startedAt: new Date().toISOString(),
    shards: options.shards,
    ...shadowsOf(previous, options, dataDir),
    profile: previous?.profile ?? options.profile,
    agents,
    coordinator: { pid: 0, logFile: join(dataDir, 'logs', 'coordinator.log'), httpUrl: previous?.coordinator?.httpUrl ?? `http://${options.host}:${await freePort(options.host)}` },
    gateway: { pid: 0, logFile: join(dataDir, 'logs', 'gateway.log'), httpUrl: `http://${options.host}:${options.gatewayPort}` },
  };
}

function portOf(url: string): string {
  return new URL(url).port;
}

/** Waits for `ready`, failing with the part's log file named when it does not come up. */
async function awaitReady(part: ManagedProcess, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const exited = part.exited.then(() => false);
  const ok = await Promise.race([waitUntil(ready, timeoutMs), exited]);
  if (!ok) throw new OperatingError('PART_NOT_READY', `${part.name} did not become ready within ${timeoutMs / 1000} s; see ${part.logFile}`);
}

/** Starts the broker, the agents, the coordinator, the dashboard and the gateway, in that order. */
export async function up(options: UpOptions, logger: Logger): Promise<RunningCluster> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  const previous = previousState(dataDir);
  if (previous) await killLeftovers(previous, logger);
  const state = await planState(options, dataDir);
  writeClusterState(dataDir, state);
  const parts: ManagedProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const part of [...parts].reverse()) await stopPart(part, stopGraceMs);
  };
  try {
    await startAll(options, state, parts, logger);
  } catch (error) {
    await stopAll();
    throw error;
  }
  writeClusterState(dataDir, state);
  const demo = options.demo
    ? await startDemoWorkload({ gatewayUrl: state.gatewayUrl!, opsPerSecond: options.demoOpsPerSecond, keyCount: 1000, reportEveryMs: 10_000 }, logger.child('demo'))
    : undefined;
  return {
    state,
    async stop() {
      await demo?.stop();
      await stopAll();
      writeClusterState(dataDir, { ...state, supervisorPid: 0 });
    },
  };
}

async function startAll(options: UpOptions, state: LocalClusterState, parts: ManagedProcess[], logger: Logger): Promise<void> {
  const { dataDir, cluster } = state;
  const common = ['--broker', state.brokerUrl, '--cluster', cluster, ...Object.entries(state.mqttLogin ?? {}).flatMap(([flag, value]) => [`--${flag}`, value])];
  if (options.brokerUrl) await checkBrokerLogin(options.brokerUrl, options.brokerLogin ?? {});
  else {
    const port = Number(portOf(state.brokerUrl));
    await ensurePortFree('broker', state.brokerUrl);
    const broker = startPart('broker', ['broker', '--host', options.host, '--port', String(port)], join(dataDir, 'logs', 'broker.log'), logger);
    parts.push(broker);
    state.broker = { pid: broker.child.pid!, logFile: broker.logFile };
    writeClusterState(dataDir, state);
    await awaitReady(broker, () => portOpen(port, options.host), options.readyTimeoutMs);
  }
  const profile = await localProfile(state.profile, dataDir);
  for (const agent of state.agents) {
    await ensurePortFree(agent.node, agent.httpUrl);
    await ensurePortFree(agent.node, agent.dataUrl);
    const args = ['agent', ...common, '--node-id', agent.node, '--profile', profile, '--data-dir', join(dataDir, 'nodes', agent.node),
      '--cluster-key-file', state.clusterKeyFile, '--http-host', options.host, '--http-port', portOf(agent.httpUrl),
      '--data-host', options.host, '--data-port', portOf(agent.dataUrl), '--advertise-host', options.host, '--allow-chaos',
      // One machine, no network between the parts: a 1 s keep-alive lets the broker publish a hung
      // agent's will within 1.5 s (measured: about 1 s), before the coordinator's 3 s heartbeat timeout.
      '--mqtt-keepalive', String(LOCAL_AGENT_KEEPALIVE_S)];
    const part = startPart(agent.node, args, agent.logFile, logger);
    parts.push(part);
    agent.pid = part.child.pid!;
    writeClusterState(dataDir, state);
  }
  for (const [index, agent] of state.agents.entries()) {
    await awaitReady(parts[parts.length - state.agents.length + index]!, () => httpOk(`${agent.httpUrl}/healthz`), options.readyTimeoutMs);
  }
  logger.info(`${state.agents.length} agents ready`);
  const coordinatorArgs = ['coordinator', ...common, '--cluster-key-file', state.clusterKeyFile, '--data-dir', join(dataDir, 'coordinator'),
    '--http-host', options.host, '--http-port', portOf(state.coordinator!.httpUrl), '--shards', String(state.shards),
    ...(state.shadows === undefined ? [] : ['--shadows-per-shard', String(state.shadows)])];
  await ensurePortFree('coordinator', state.coordinator!.httpUrl);
  const coordinator = startPart('coordinator', coordinatorArgs, state.coordinator!.logFile, logger);
  parts.push(coordinator);
  state.coordinator!.pid = coordinator.child.pid!;
  writeClusterState(dataDir, state);
  await awaitReady(coordinator, () => httpOk(`${state.coordinator!.httpUrl}/healthz`), options.readyTimeoutMs);
  await ensurePortFree('dashboard', state.dashboardUrl!);
  const dashboard = startPart('dashboard', ['dashboard', ...common, '--host', options.host, '--port', String(options.dashboardPort)], join(dataDir, 'logs', 'dashboard.log'), logger);
  parts.push(dashboard);
  state.dashboard = { pid: dashboard.child.pid!, logFile: dashboard.logFile };
  writeClusterState(dataDir, state);
  await ensurePortFree('gateway', state.gateway!.httpUrl);
  const gateway = startPart('gateway', ['gateway', ...common, '--host', options.host, '--port', String(options.gatewayPort)], state.gateway!.logFile, logger);
  parts.push(gateway);
  state.gateway!.pid = gateway.child.pid!;
  writeClusterState(dataDir, state);
  await awaitReady(gateway, () => httpOk(`${state.gateway!.httpUrl}/healthz`), options.readyTimeoutMs);
  await awaitReady(dashboard, () => httpOk(state.dashboardUrl!), options.readyTimeoutMs);
}

/** The longest `up` waits for an external broker to accept its login before it starts anything. */
const BROKER_CHECK_TIMEOUT_MS = 5_000;

/**
 * Logs in to an external broker once, so that a wrong URL, password or CA is one clear error at
 * once, not every part failing to start after its ready timeout.
 */
async function checkBrokerLogin(url: string, login: MqttLogin): Promise<void> {
  try {
    const client = await mqtt.connectAsync(url, { ...login, clientId: `foreshard-up-${randomBytes(4).toString('hex')}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: BROKER_CHECK_TIMEOUT_MS });
    await client.endAsync();
  } catch (error) {
    throw new OperatingError('BROKER_UNREACHABLE', `cannot log in to the MQTT broker at ${url}: ${(error as Error).message} (the --mqtt-* flags give its user name, password and TLS files)`);
  }
}

/**
 * The profile `up`'s agents run: the chosen one without its host collectors. Every agent of a local
 * cluster would sample the same machine, so its CPU, memory, disk and network series would say
 * nothing about one node over another, while a busy moment of the machine (a browser opening the
 * dashboard, a compile) would raise every node's risk at once and switch healthy shards between
 * healthy nodes. The store's own series stay: they are each agent's own. Written to
 * `<data-dir>/profile.json` at every start; the agent validates it as any profile.
 */
async function localProfile(nameOrPath: string, dataDir: string): Promise<string> {
  const { profile } = await loadProfile(nameOrPath);
  const collectors = profile.sampling.collectors.filter((collector) => collector === 'store');
  if (collectors.length === profile.sampling.collectors.length) return nameOrPath;
  const path = join(dataDir, 'profile.json');
  const local = { ...profile, name: `${profile.name}-local`, sampling: { ...profile.sampling, collectors: collectors.length > 0 ? collectors : ['store'] } };
  writeFileSync(path, JSON.stringify(local, null, 2) + '\n');
  return path;
}
