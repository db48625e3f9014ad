/**
 * `foreshard agent`: the parent that wires one storage host (DESIGN.md §1, §4, §5.2). It loads the
 * profile, opens the shard host (replicas and data port), connects to MQTT, samples the host and
 * the store every interval, publishes metrics and scores, answers commands, and serves `/metrics`
 * and `/healthz`. The parent decides what runs; the parts it wires do the work.
 *
 * Start-up order matters: the profile and the key are checked before anything opens, so a bad
 * setting refuses the start with every problem listed and leaves nothing behind; the data port
 * opens before MQTT, because the birth names its URL.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ChaosController, chaosFamilies, serveChaosHttp, WorkerCpuBurner } from '../chaos/index.js';
import { createLogger, type Logger } from '../common/log.js';
import { NodeExporterCollector, ProcCollector, Sampler, StoreMetricsRecorder, type Collector, type MetricFamilyInput, type MetricsSample } from '../metrics/index.js';
import { loadProfile, type Profile } from '../profiles/index.js';
import type { ReplicationChaosHooks } from '../replication/index.js';
import { createDropCounter, encodeMessage, type CommandResult, type Metrics, type Score } from '../protocol/index.js';
import { readClusterKeyFile } from './cluster-key.js';
import { CommandDispatcher } from './commands.js';
import { AgentError } from './errors.js';
import { startHttpServer, type AgentHttpServer, type AgentView } from './http.js';
import { MqttLink, newSessionId, type MqttTls } from './mqtt-link.js';
import type { AgentOptions } from './options.js';
import { Scorer } from './scoring.js';
import type { AgentShardHost } from './shard-host.js';
import { SyntheticSeries } from './synthetic.js';

/** What opens the shard host; the real one is `openReplicationHost`, tests may pass their own. */
export type ShardHostOpener = (parts: { options: AgentOptions; profile: Profile; recorder: StoreMetricsRecorder; logger: Logger; chaos?: ReplicationChaosHooks }) => Promise<AgentShardHost>;

/** A running agent. */
export interface Agent {
  readonly session: string;
  readonly httpUrl: string;
  readonly dataUrl: string;
  readonly profile: Profile;
  /** Publishes a clean offline state, stops sampling, closes MQTT, HTTP and the shard host. */
  stop(): Promise<void>;
}

/** The foreshard version, for the birth. */
export function foreshardVersion(): string {
  return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
}

function readFileOrRefuse(what: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new AgentError('AGENT_BAD_MQTT_FILE', `${what} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function mqttTls(options: AgentOptions): MqttTls {
  const tls: MqttTls = {};
  const ca = readFileOrRefuse('--mqtt-ca', options.mqtt.caFile);
  const cert = readFileOrRefuse('--mqtt-cert', options.mqtt.certFile);
  const key = readFileOrRefuse('--mqtt-key', options.mqtt.keyFile);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}

function collectorsFor(options: AgentOptions, profile: Profile, recorder: StoreMetricsRecorder): Collector[] {
  const enabled = new Set(profile.sampling.collectors);
  const collectors: Collector[] = [];
  const nodeExporterUrl = options.nodeExporterUrl ?? profile.sampling.nodeExporter.url;
  // node_exporter, when given, replaces /proc: both describe the same host.
  if (nodeExporterUrl !== undefined) {
    collectors.push(new NodeExporterCollector({ url: nodeExporterUrl, timeoutMs: profile.sampling.nodeExporter.timeoutMs, bytesMax: profile.sampling.nodeExporter.bytesMax }));
  } else if (enabled.has('proc')) {
    collectors.push(new ProcCollector());
  }
  if (enabled.has('store')) collectors.push(recorder);
  return collectors;
}

/**
 * Starts an agent. Throws a ProfileError or an AgentError (with every problem) when it cannot start.
 * `processFamilies` adds to /metrics what the process around the agent does (the command's page-out).
 */
export async function startAgent(options: AgentOptions, openHost: ShardHostOpener, logger: Logger = createLogger('agent'), processFamilies: () => readonly MetricFamilyInput[] = () => []): Promise<Agent> {
  const loaded = await loadProfile(options.profile);
  for (const adjustment of loaded.adjustments) logger.warn(`profile adjusted: ${adjustment}`, { profile: loaded.profile.name });
  const profile = loaded.profile;
  const clusterKey = options.clusterKeyFile === undefined ? undefined : readClusterKeyFile(options.clusterKeyFile);
  if (clusterKey === undefined) logger.warn('no --cluster-key-file: every coordinator command will be refused BAD_SIGNATURE');
  const tls = mqttTls(options);
  const recorder = new StoreMetricsRecorder({ startedAtMs: Date.now() });
  const chaos = openChaos(options, logger);
  const host = await openHost({ options, profile, recorder, logger: logger.child('replication'), ...(chaos ? { chaos } : {}) });
  try {
    return await wire(options, profile, clusterKey, tls, recorder, host, logger, chaos, processFamilies);
  } catch (error) {
    await chaos?.close();
    await host.close();
    throw error;
  }
}

/** The fault injector, only with `--allow-chaos`: without it, no path of this agent can be slowed down on purpose. */
function openChaos(options: AgentOptions, logger: Logger): ChaosController | undefined {
  if (!options.allowChaos) return undefined;
  logger.warn('--allow-chaos: this agent accepts injected faults (foreshard chaos); never run production with it');
  const chaosLogger = logger.child('chaos');
  return new ChaosController({ burner: new WorkerCpuBurner((error) => chaosLogger.error('a cpu-burn thread failed', { message: error.message })), logger: chaosLogger });
}

async function wire(options: AgentOptions, profile: Profile, clusterKey: Uint8Array | undefined, tls: MqttTls, recorder: StoreMetricsRecorder, host: AgentShardHost, logger: Logger, chaos: ChaosController | undefined, processFamilies: () => readonly MetricFamilyInput[]): Promise<Agent> {
  const session = newSessionId();
  const version = foreshardVersion();
  const drops = createDropCounter({ log: (drop, count) => logger.warn('dropped a payload', { kind: drop.kind, source: drop.source, code: drop.error.code, message: drop.error.message, count }) });
  let dispatcher: CommandDispatcher | undefined;
  const link = new MqttLink({
    options: options.mqtt,
    tls,
    cluster: options.cluster,
    nodeId: options.nodeId,
    session,
    birth: () => ({ state: 'online', session, ts: Date.now(), version, profile: profile.name, dataUrl: host.dataUrl }),
    onCommand: (payload) => void dispatcher?.handle(payload),
    onDrop: drops.onDrop,
    logger: logger.child('mqtt'),
  });
  const topics = link.topics;
  const publishResult = (result: CommandResult): void =>
    link.publish({ kind: 'command-result', topic: topics.node(options.nodeId, 'cmd-result'), payload: encodeMessage('command-result', result), qos: 1, retain: false });
  const scorer = options.prediction ? new Scorer(profile) : undefined;
  const calibration = scorer ? { apply: scorer.setCalibration.bind(scorer) } : undefined;
  dispatcher = new CommandDispatcher({ cluster: options.cluster, nodeId: options.nodeId, clusterKey, host, session, publishResult, onDrop: drops.onDrop, logger: logger.child('commands'), maxRefusalAnswersPerS: options.maxRefusalAnswersPerS, ...(chaos ? { chaos } : {}), ...(calibration ? { calibration } : {}) });
  const synthetic = new SyntheticSeries(options.syntheticSeries);
  let lastSample: MetricsSample | undefined;
  let extraSeries: Record<string, number> = {};
  let lastScore: Score | undefined;

  const onSample = (sample: MetricsSample): void => {
    lastSample = sample;
    extraSeries = synthetic.sample(sample.ts);
    const series: Record<string, number> = { ...sample.series, ...extraSeries };
    const metrics: Metrics = { ts: sample.ts, intervalMs: sample.intervalMs, series };
    link.publish({ kind: 'metrics', topic: topics.node(options.nodeId, 'metrics'), payload: encodeMessage('metrics', metrics), qos: 0, retain: false });
    if (!scorer) return;
    const replicas = host.replicas();
    scorer.observe(series, replicas);
    lastScore = scorer.score(sample.ts, replicas.map((replica) => replica.shard));
    link.publish({ kind: 'score', topic: topics.node(options.nodeId, 'score'), payload: encodeMessage('score', lastScore), qos: 0, retain: false });
  };
  const sampler = new Sampler({ sampleIntervalMs: profile.sampling.sampleIntervalMs, collectors: collectorsFor(options, profile, recorder), logger: logger.child('metrics'), onSample });

  const view = (): AgentView => ({
    nodeId: options.nodeId,
    cluster: options.cluster,
    session,
    profile: profile.name,
    dataUrl: host.dataUrl,
    sampleIntervalMs: profile.sampling.sampleIntervalMs,
    metrics: { ...(lastSample ? { sample: lastSample } : {}), storeTotals: recorder.totals(), samplerCounters: sampler.counters, unavailableSources: sampler.unavailableSources() },
    extraSeries,
    score: lastScore,
    link: link.state(),
    drops: drops.counts(),
    commands: dispatcher!.counters(),
    scorer: scorer?.counters(),
    replicas: host.replicas(),
    hostFigures: host.figures(),
    nowMs: Date.now(),
    extraFamilies: [...(chaos ? chaosFamilies(chaos.state()) : []), ...processFamilies()],
    residentBytes: process.memoryUsage.rss(),
  });
  const http: AgentHttpServer = await startHttpServer(options.httpHost, options.httpPort, view, { '/chaos': (request, response) => serveChaosHttp(chaos, request, response) });
  link.start();
  sampler.start();
  logger.info('agent started', { node: options.nodeId, cluster: options.cluster, session, profile: profile.name, httpUrl: http.url, dataUrl: host.dataUrl, broker: options.mqtt.url, prediction: options.prediction });

  let stopped: Promise<void> | undefined;
  return {
    session,
    httpUrl: http.url,
    dataUrl: host.dataUrl,
    profile,
    stop: () =>
      (stopped ??= (async () => {
        sampler.stop();
        await dispatcher!.idle();
        await link.stop();
        await http.close();
        await chaos?.close();
        await host.close();
        logger.info('agent stopped', { node: options.nodeId, session });
      })()),
  };
}
