// A harness for multi-process scenarios (test/e2e/): an MQTT broker (the embedded Aedes in this
// process, or Mosquitto when reachable), N real `foreshard agent` processes, a `foreshard coordinator`
// and a `foreshard gateway`, each spawned as `node bin/foreshard.js <part> ...` with its stderr kept
// in memory and in <dir>/logs/<name>.log; an MQTT watcher that decodes routing tables and incidents;
// a CLI runner; and `stop()`, which kills every process it started (call it in `after`).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { clusterTopics, decodeMessage, type Incident, type RoutingTable } from '../../src/protocol/index.js';

export const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;

/** A run-unique cluster name, so runs against a shared Mosquitto never see each other's messages. */
export function uniqueCluster(label: string): string {
  return `e2e-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** True when a TCP connection to host:port opens within a second. */
export function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls `check` every 50 ms until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, logs?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${logs ? `\n--- logs ---\n${logs()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A process the harness started. */
export interface Part {
  readonly name: string;
  readonly child: ChildProcess;
  /** Fields of its start line (`agent started`, `coordinator serving`, gateway `listening`). */
  readonly started: Record<string, unknown>;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

/** What `startCluster` sets up. */
export interface ClusterOptions {
  label: string;
  /** `embedded` (default) or `mosquitto` (127.0.0.1:1883; check `reachable` first). */
  broker?: 'embedded' | 'mosquitto';
  /** Sampling interval of the agents' profile. */
  sampleIntervalMs?: number;
  /** A firmware profile name or path for the agents, in place of the harness's short-horizon `e2e` profile. */
  profile?: string;
  /** Also decode every node's `metrics` and `state` messages into `metrics` and `states`. */
  watchNodes?: boolean;
}

/** One node's published metrics, with when the watcher received them. */
export interface SeenMetrics {
  node: string;
  seenAtMs: number;
  series: Record<string, number>;
}

/** One node's birth or will, with when the watcher received it. */
export interface SeenState {
  node: string;
  seenAtMs: number;
  state: string;
  session: string;
}

/** An SLO as a profile states it. */
export type Slo = { max?: number; min?: number };

/**
 * How far back a switch's justification looks: a switch away from a node whose published metrics
 * crossed an SLO this long before it opened was caused by a real breach, not by the forecast alone
 * (a score must stay over the threshold for 3 updates, so the breach may have passed by then).
 */
export const BREACH_LOOKBACK_MS = 5_000;

/** The series of a sample that are past their SLO (above its max, or below its min), as `name=value`. */
export function pastSlo(series: Readonly<Record<string, number>>, slo: Readonly<Record<string, Slo>>): string[] {
  return Object.entries(slo).filter(([name, { max, min }]) => {
    const value = series[name];
    return value !== undefined && ((max !== undefined && value > max) || (min !== undefined && value < min));
  }).map(([name]) => `${name}=${series[name]}`);
}

/**
 * generic-x86-server with its host CPU SLOs (CPU, CPU stall, I/O stall) raised for the shared 2-core
 * test machine, whose CPU the e2e scenarios genuinely saturate at times; its store SLOs as shipped.
 * Written to a temporary file: its path, and its SLOs.
 */
export function sharedHostProfile(options: { sampleIntervalMs?: number } = {}): { path: string; slo: Record<string, Slo> } {
  const generic = JSON.parse(readFileSync(new URL('../../../firmware-profiles/generic-x86-server.json', import.meta.url), 'utf8')) as { name: string; slo: Record<string, Slo>; sampling: { sampleIntervalMs: number } };
  delete (generic as { $schema?: string }).$schema;
  generic.name = 'generic-x86-server-on-shared-ci';
  generic.slo.cpu_utilization = { max: 0.999 };
  generic.slo.cpu_stall_ratio = { max: 0.95 };
  generic.slo.io_stall_ratio = { max: 0.95 };
  if (options.sampleIntervalMs !== undefined) generic.sampling.sampleIntervalMs = options.sampleIntervalMs;
  const path = join(mkdtempSync(join(tmpdir(), 'foreshard-e2e-profile-')), 'shared-ci-host.json');
  writeFileSync(path, JSON.stringify(generic, null, 2));
  return { path, slo: generic.slo };
}

/** The node that is primary of the most shards (ties: the lowest id), and those shards. */
export function mostPrimaries(table: RoutingTable): [string, number[]] {
  const primaries = new Map<string, number[]>();
  for (const route of table.shards) if (route.primary !== null) primaries.set(route.primary, [...(primaries.get(route.primary) ?? []), route.id]);
  return [...primaries.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))[0]!;
}

/** A cluster of real processes under one temporary directory. */
export class E2eCluster {
  readonly cluster: string;
  readonly dir: string;
  readonly keyFile: string;
  readonly profilePath: string;
  readonly topics;
  brokerUrl = '';
  readonly parts = new Map<string, Part>();
  /** Every routing table and incident seen on the broker, in arrival order. */
  readonly routing: RoutingTable[] = [];
  readonly incidents: Incident[] = [];
  /** When each routing table and incident arrived (Date.now()), index for index. */
  readonly routingSeenAtMs: number[] = [];
  readonly incidentsSeenAtMs: number[] = [];
  /** With `watchNodes`: every metrics message and every birth or will, in arrival order. */
  readonly metrics: SeenMetrics[] = [];
  readonly states: SeenState[] = [];
  private embedded: EmbeddedBroker | undefined;
  private watcher: mqtt.MqttClient | undefined;

  constructor(readonly options: ClusterOptions) {
    this.cluster = uniqueCluster(options.label);
    this.topics = clusterTopics(this.cluster);
    this.dir = mkdtempSync(join(tmpdir(), `foreshard-e2e-${options.label}-`));
    mkdirSync(join(this.dir, 'logs'));
    this.profilePath = join(this.dir, 'profile.json');
    writeFileSync(this.profilePath, JSON.stringify({
      name: 'e2e', sampling: { sampleIntervalMs: options.sampleIntervalMs ?? 500, collectors: ['proc', 'store'] },
      prediction: { horizonS: 5, windowSamples: 100, refitEvery: 50 }, replication: { applyDelayMs: 200 },
    }));
    this.keyFile = join(this.dir, 'cluster.key');
    writeFileSync(this.keyFile, randomBytes(32).toString('hex') + '\n');
  }

  /** Starts the broker and the watcher. */
  async startBroker(): Promise<void> {
    if (this.options.broker === 'mosquitto') {
      this.brokerUrl = 'mqtt://127.0.0.1:1883';
    } else {
      this.embedded = await startEmbeddedBroker({ port: 0, host: '127.0.0.1' });
      this.brokerUrl = this.embedded.url;
    }
    this.watcher = await mqtt.connectAsync(this.brokerUrl, { protocolVersion: 4, reconnectPeriod: 500 });
    const nodePrefix = `foreshard/v1/${this.cluster}/node/`;
    this.watcher.on('message', (topic, payload) => {
      const seenAtMs = Date.now();
      try {
        if (topic === this.topics.routing && payload.length > 0) {
          this.routing.push(decodeMessage('routing', payload));
          this.routingSeenAtMs.push(seenAtMs);
        } else if (topic.startsWith(`foreshard/v1/${this.cluster}/incident/`)) {
          this.incidents.push(decodeMessage('incident', payload));
          this.incidentsSeenAtMs.push(seenAtMs);
        } else if (topic.startsWith(nodePrefix) && topic.endsWith('/metrics')) {
          const node = topic.slice(nodePrefix.length, -'/metrics'.length);
          this.metrics.push({ node, seenAtMs, series: decodeMessage('metrics', payload).series as Record<string, number> });
        } else if (topic.startsWith(nodePrefix) && topic.endsWith('/state') && payload.length > 0) {
          const node = topic.slice(nodePrefix.length, -'/state'.length);
          const message = decodeMessage('node-state', payload);
          this.states.push({ node, seenAtMs, state: message.state, session: message.session });
        }
      } catch {
        // The scenario asserts on what decodes; a bad payload shows up as a missing table.
      }
    });
    const topics = [this.topics.routing, this.topics.allIncidents];
    if (this.options.watchNodes) topics.push(this.topics.allNodes('metrics'), this.topics.allNodes('state'));
    await this.watcher.subscribeAsync(topics, { qos: 1 });
  }

  /**
   * Closes the embedded broker (every client loses its connection and every retained message is
   * gone, as with a restarted `foreshard broker`) and starts a new one on the same port after `downMs`.
   */
  async restartEmbeddedBroker(downMs = 1_000): Promise<void> {
    if (!this.embedded) throw new Error('restartEmbeddedBroker needs the embedded broker');
    const port = this.embedded.port;
    await this.embedded.close();
    this.embedded = undefined;
    await new Promise((resolve) => setTimeout(resolve, downMs));
    this.embedded = await startEmbeddedBroker({ port, host: '127.0.0.1' });
  }

  /** Spawns `foreshard <args>` and waits for the stderr line containing `readyText`. */
  async spawnPart(name: string, args: string[], readyText: string, timeoutMs = 20_000): Promise<Part> {
    const child = spawn(process.execPath, [binPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORESHARD_LOG_LEVEL: 'info', FORESHARD_LOG_FORMAT: '' } });
    let stderr = '';
    const logFile = join(this.dir, 'logs', `${name}.log`);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        appendFileSync(logFile, chunk);
        const line = stderr.split('\n').find((l) => l.includes(` ${readyText} `) || l.endsWith(` ${readyText}`));
        if (line) {
          clearTimeout(timer);
          resolve(line.includes('{') ? (JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>) : {});
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before starting:\n${stderr}`));
      });
    });
    const part: Part = { name, child, started, stderr: () => stderr, exited };
    this.parts.set(name, part);
    return part;
  }

  /** Starts agent `node` with its own data directory (kept across restarts of the same node). */
  startAgent(node: string, extra: string[] = []): Promise<Part> {
    return this.spawnPart(node, ['agent', '--broker', this.brokerUrl, '--cluster', this.cluster, '--node-id', node, '--profile', this.options.profile ?? this.profilePath,
      '--data-dir', join(this.dir, 'nodes', node), '--cluster-key-file', this.keyFile, '--http-host', '127.0.0.1', '--http-port', '0',
      '--data-host', '127.0.0.1', '--data-port', '0', '--advertise-host', '127.0.0.1', ...extra], 'agent started');
  }

  /** The coordinator's data directory. */
  get coordinatorDir(): string {
    return join(this.dir, 'coordinator');
  }

  /** Starts the coordinator (name `coordinator`, or `coordinator-<n>` for later lives). */
  startCoordinator(extra: string[] = [], name = 'coordinator'): Promise<Part> {
    return this.spawnPart(name, ['coordinator', '--broker', this.brokerUrl, '--cluster', this.cluster, '--cluster-key-file', this.keyFile,
      '--data-dir', this.coordinatorDir, '--http-host', '127.0.0.1', '--http-port', '0', ...extra], 'coordinator serving');
  }

  /** Starts a gateway on a free port; its `started.url` is the client URL. */
  startGateway(extra: string[] = []): Promise<Part> {
    return this.spawnPart('gateway', ['gateway', '--broker', this.brokerUrl, '--cluster', this.cluster, '--host', '127.0.0.1', '--port', '0', ...extra], 'listening');
  }

  /**
   * Starts `nodes` agents with `agentFlags`, a coordinator that creates `shardCount` shards with two
   * shadows each (plus `coordinatorFlags`), and a gateway; resolves with the gateway's client URL once
   * every shard is open with both shadows. The scenarios share this set-up.
   */
  async startCluster(shardCount: number, agentFlags: string[], coordinatorFlags: string[] = [], nodes: readonly string[] = ['n1', 'n2', 'n3']): Promise<string> {
    await Promise.all(nodes.map((node) => this.startAgent(node, agentFlags)));
    await this.startCoordinator(['--shards', String(shardCount), '--shadows-per-shard', '2', ...coordinatorFlags]);
    const gateway = await this.startGateway();
    await waitFor('the cluster to be created', () => {
      const table = this.latestRouting();
      return table?.shards.length === shardCount && table.shards.every((r) => r.writes === 'open' && r.shadows.length === 2);
    }, 30_000, () => this.logs());
    return String(gateway.started.url);
  }

  /** The newest routing table seen, if any. */
  latestRouting(): RoutingTable | undefined {
    return this.routing.at(-1);
  }

  /** Runs `foreshard <args>` to completion. */
  runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [binPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`foreshard ${args.join(' ')} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** The `--broker … --cluster … --cluster-key-file …` flags of operator commands. */
  get targetFlags(): string[] {
    return ['--broker', this.brokerUrl, '--cluster', this.cluster, '--cluster-key-file', this.keyFile];
  }

  /** Stops one part: SIGTERM, then SIGKILL after `graceMs`. */
  async stopPart(name: string, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    const part = this.parts.get(name);
    if (!part) return;
    this.parts.delete(name);
    if (part.child.exitCode !== null || part.child.signalCode !== null) return;
    part.child.kill(signal);
    const timer = setTimeout(() => part.child.kill('SIGKILL'), graceMs);
    await part.exited;
    clearTimeout(timer);
  }

  /** The SLOs the switch's old primary crossed in the metrics it published `lookbackMs` before the incident (needs `watchNodes`). */
  slosCrossedBefore(incident: Incident, slo: Readonly<Record<string, Slo>>, lookbackMs: number): string[] {
    return this.metrics
      .filter((m) => m.node === incident.fromNode && m.seenAtMs >= incident.ts - lookbackMs && m.seenAtMs <= incident.ts)
      .flatMap((m) => pastSlo(m.series, slo));
  }

  /** Every part's stderr, for a failure message. */
  logs(): string {
    return [...this.parts.values()].map((part) => `==== ${part.name}\n${part.stderr().split('\n').slice(-40).join('\n')}`).join('\n');
  }

  /** Kills every process, clears this run's retained messages, stops the broker, removes the directory (unless KEEP_E2E is set: then it also writes `metrics.json`). */
  async stop(): Promise<void> {
    // SIGKILL also ends a process a scenario stopped with SIGSTOP.
    for (const part of this.parts.values()) if (part.child.exitCode === null && part.child.signalCode === null) part.child.kill('SIGKILL');
    await Promise.all([...this.parts.values()].map((part) => part.exited));
    this.parts.clear();
    if (this.watcher) {
      // Retained messages of this run would outlive it on a shared Mosquitto: publish empty ones [MQTT-3.3.1-10].
      const retained = [this.topics.routing, this.topics.coordinatorState];
      for (const name of ['n1', 'n2', 'n3', 'n4']) retained.push(this.topics.node(name, 'state'));
      for (const topic of retained) await this.watcher.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true }).catch(() => undefined);
      await this.watcher.endAsync().catch(() => undefined);
    }
    await this.embedded?.close();
    // With KEEP_E2E the nodes' published metrics are kept too, for replaying them through the scorer.
    if (process.env.KEEP_E2E && this.metrics.length > 0) writeFileSync(join(this.dir, 'metrics.json'), JSON.stringify(this.metrics));
    if (!process.env.KEEP_E2E) rmSync(this.dir, { recursive: true, force: true });
  }
}
