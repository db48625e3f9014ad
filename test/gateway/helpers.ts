/**
 * Shared pieces of the gateway and client suites: a seeded PRNG (the seed is printed on failure),
 * publishing routing tables to a real broker, a plain `ws` client speaking §5.1 frames, and a
 * "silent agent" (a WebSocket server that welcomes and never answers) for the TIMEOUT and
 * slow-agent cases. Everything else talks to real ShardHosts on real data ports.
 */
import mqtt from 'mqtt';
import WebSocket, { WebSocketServer } from 'ws';
import { clusterTopics, decodeCbor, decodeDataFrame, encodeCbor, encodeDataFrame, encodeMessage, type RoutingTable, type ShardRoute } from '../../src/protocol/index.js';
import { mulberry32 as seededRandom } from '../../src/common/random.js';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its printed seed. */
export { seededRandom };

/** The seed of this run: FORESHARD_TEST_SEED or a fresh one. */
export function testSeed(): number {
  const fromEnv = process.env.FORESHARD_TEST_SEED;
  return fromEnv === undefined ? (Date.now() ^ (process.pid << 8)) >>> 0 : Number(fromEnv);
}

/** Runs `body`, and on failure adds the seed to the error so the run can be replayed. */
export async function withSeed<T>(seed: number, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    (error as Error).message += `\n(replay with FORESHARD_TEST_SEED=${seed})`;
    throw error;
  }
}

/** Publishes routing tables, retained, as the coordinator would. */
export class RoutingPublisher {
  private version = 0;
  private constructor(
    private readonly client: mqtt.MqttClient,
    private readonly cluster: string,
  ) {}

  static async connect(brokerUrl: string, cluster: string): Promise<RoutingPublisher> {
    const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 4, clientId: `test-coordinator-${process.pid}-${Math.random().toString(36).slice(2)}` });
    return new RoutingPublisher(client, cluster);
  }

  /** Publishes a table with the next version; resolves once the broker has it (QoS 1). */
  async publish(shardCount: number, shards: ShardRoute[]): Promise<RoutingTable> {
    const table: RoutingTable = { version: ++this.version, ts: Date.now(), shardCount, shards };
    await this.client.publishAsync(clusterTopics(this.cluster).routing, Buffer.from(encodeMessage('routing', table)), { qos: 1, retain: true });
    return table;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** A plain `ws` client (not ours) that pairs §5.1 responses by id. */
export class RawClient {
  private readonly waiters = new Map<number, (response: Record<string, unknown>) => void>();
  private readonly unpaired: Record<string, unknown>[] = [];
  private unpairedWaiter: ((response: Record<string, unknown>) => void) | undefined;
  closeCode: number | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const response = (isBinary ? decodeCbor(new Uint8Array(data), 1 << 26) : JSON.parse(data.toString('utf8'))) as Record<string, unknown>;
      const id = response.id;
      const waiter = typeof id === 'number' ? this.waiters.get(id) : undefined;
      if (waiter) {
        this.waiters.delete(id as number);
        waiter(response);
      } else if (this.unpairedWaiter) {
        const next = this.unpairedWaiter;
        this.unpairedWaiter = undefined;
        next(response);
      } else this.unpaired.push(response);
    });
    socket.on('close', (code) => (this.closeCode = code));
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers, perMessageDeflate: false });
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a CBOR binary frame and waits for the response with `id`. */
  binary(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.sendRaw(Buffer.from(encodeCbor(message)), true, message.id as number);
  }

  /** Sends a JSON text frame and waits for the response with `id`. */
  text(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.sendRaw(JSON.stringify(message), false, message.id as number);
  }

  /** Sends any frame; waits for the response with `id`, or for the next unpaired one when id is null. */
  sendRaw(data: Buffer | string, binary: boolean, id: number | null): Promise<Record<string, unknown>> {
    const answer = new Promise<Record<string, unknown>>((resolve) => {
      if (id === null) {
        const queued = this.unpaired.shift();
        if (queued) resolve(queued);
        else this.unpairedWaiter = resolve;
      } else this.waiters.set(id, resolve);
    });
    this.socket.send(data, { binary });
    return answer;
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** A data port that welcomes gateways and never answers a request: an agent that hangs. */
export async function startSilentAgent(): Promise<{ url: string; requestsSeen(): number; close(): Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  let seen = 0;
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer) => {
      const frame = decodeDataFrame(new Uint8Array(data));
      if (frame.type === 'hello') socket.send(encodeDataFrame({ type: 'welcome', version: 1, node: 'silent' }));
      else seen++;
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ws://127.0.0.1:${port}`,
    requestsSeen: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** A route for `shard` with `primary` (and optional shadows) at `epoch`. */
export function route(shard: number, epoch: number, primary: string, dataUrls: Record<string, string>, writes: ShardRoute['writes'] = 'open', shadows: string[] = []): ShardRoute {
  const named = [primary, ...shadows];
  return { id: shard, epoch, primary, shadows, writes, dataUrls: Object.fromEntries(named.map((node) => [node, dataUrls[node]!])) };
}

/** Resolves when `condition` holds, polling; rejects after `timeoutMs` (a guard, not a measured timing). */
export async function eventually(condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
