// Shared parts of the agent suites: real agent processes (`node bin/foreshard.js agent ...`), the
// brokers the conformance suite runs against, and a plain mqtt.js watcher that decodes payloads with
// the independent `cbor` package. Nothing here is a mock: every test talks to real processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cbor from 'cbor';
import mqtt from 'mqtt';

export const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;

/**
 * A copy of this node executable at `dir/node-<name>`, for one process: no other process maps its
 * pages, as none does on a storage host where the agent is the only node process (the page-out in
 * src/agent/page-out.ts can hand back only the pages no other process maps).
 */
export function ownNodeCopy(dir: string, name: string): string {
  const path = join(dir, `node-${name}`);
  copyFileSync(process.execPath, path);
  chmodSync(path, 0o755);
  return path;
}

/** A run-unique cluster name, so runs against a shared Mosquitto never see each other's messages. */
export function uniqueCluster(label: string): string {
  return `t-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
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

/** A temporary directory with a fast-sampling profile and a cluster key; `remove()` deletes it. */
export function workspace(sampleIntervalMs = 250): { dir: string; profilePath: string; keyHex: string; keyFile: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'foreshard-agent-'));
  const profilePath = join(dir, 'fast.json');
  writeFileSync(profilePath, JSON.stringify({ name: 'fast-test', sampling: { sampleIntervalMs, collectors: ['proc', 'store'] }, prediction: { horizonS: 5, windowSamples: 100, refitEvery: 50 } }));
  const keyHex = randomBytes(32).toString('hex');
  const keyFile = join(dir, 'cluster.key');
  writeFileSync(keyFile, keyHex + '\n');
  return { dir, profilePath, keyHex, keyFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A running agent process and what it logged at start. */
export interface AgentProcess {
  child: ChildProcess;
  session: string;
  httpUrl: string;
  dataUrl: string;
  stderr(): string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

/**
 * Starts `foreshard agent` with `args` and waits for its "agent started" line; `executable` is the
 * node to run it with (this one by default).
 */
export async function spawnAgent(args: string[], env: NodeJS.ProcessEnv = {}, executable: string = process.execPath): Promise<AgentProcess> {
  const child = spawn(executable, [binPath, 'agent', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORESHARD_LOG_LEVEL: 'info', ...env } });
  children.add(child);
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start within 15 s; stderr:\n${stderr}`)), 15_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const line = stderr.split('\n').find((l) => l.includes(' agent started '));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(line.indexOf('{'))) as Record<string, string>);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before starting; stderr:\n${stderr}`));
    });
  });
  return { child, session: started.session!, httpUrl: started.httpUrl!, dataUrl: started.dataUrl!, stderr: () => stderr, exited };
}

/** Runs `foreshard agent` to completion and returns its exit code and stderr (for refusals at start). */
export async function runAgentToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [binPath, 'agent', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr };
}

/** Kills every agent process still running (call it from `after`, so a failed test leaves nothing behind). */
export function killAgents(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
}

/** One received message, decoded by the independent `cbor` package (null for an empty payload). */
export interface Seen {
  topic: string;
  retain: boolean;
  payload: Buffer;
  /** `undefined` when the payload is not CBOR (the garbage tests publish). */
  decoded: unknown;
}

/** Decodes with the `cbor` package; the tests publish garbage on purpose, which decodes to `undefined`. */
function genericDecode(payload: Buffer): unknown {
  if (payload.length === 0) return null;
  try {
    return cbor.decodeFirstSync(payload) as unknown;
  } catch {
    return undefined;
  }
}

/** A plain mqtt.js subscriber that records every message on `filters`. */
export class Watcher {
  readonly seen: Seen[] = [];
  private waiters: { match: (m: Seen) => boolean; resolve: (m: Seen) => void }[] = [];

  private constructor(readonly client: mqtt.MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const message: Seen = { topic, retain: packet.retain, payload, decoded: genericDecode(payload) };
      this.seen.push(message);
      this.waiters = this.waiters.filter((w) => (w.match(message) ? (w.resolve(message), false) : true));
    });
  }

  /** Connects to `url` and subscribes to `filters` with QoS 1. */
  static async open(url: string, filters: string[]): Promise<Watcher> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
    const watcher = new Watcher(client);
    await client.subscribeAsync(filters, { qos: 1 });
    return watcher;
  }

  /** The first message (already seen or to come) that matches, or a rejection after `timeoutMs`. */
  next(match: (m: Seen) => boolean, timeoutMs = 10_000, after = 0): Promise<Seen> {
    const found = this.seen.slice(after).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; seen topics: ${[...new Set(this.seen.map((m) => m.topic))].join(', ')}`)), timeoutMs);
      this.waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Clears the retained messages a test left under `cluster` on `url` (an empty retained payload deletes one). */
export async function clearRetained(url: string, topics: string[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
  for (const topic of topics) await client.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true });
  await client.endAsync();
}

/** GETs `url` and returns status and text. */
export async function httpGet(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

/** Polls `check` every 100 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}
