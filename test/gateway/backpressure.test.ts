// Proves that a client which sends requests but never reads its socket cannot make the gateway hold
// an unbounded amount of memory, while other clients keep being served (DESIGN.md §5.1, docs/gateway.md
// "Backpressure"). A `ws` client pauses its socket and asks for a 256 KiB value 400 times (100 MiB of
// responses); the gateway, with small buffer limits, queues responses only up to
// `maxConnectionQueueBytes`, then closes that connection with 1008 and releases everything it held,
// while a second client on the same gateway gets every answer. Real broker, agent and gateway.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { encodeCbor } from '../../src/protocol/index.js';
import { createLogger } from '../../src/common/log.js';
import { CLOSE_NOT_READING, type Gateway } from '../../src/gateway/index.js';
import { RawClient, eventually, route } from './helpers.js';
import { startTestCluster, type TestCluster } from './cluster.js';

const SHARDS = 2;
const VALUE_BYTES = 256 * 1024;
const SLOW_REQUESTS = 400;
const MAX_CONNECTION_QUEUE_BYTES = 1024 * 1024;
const SOCKET_HIGH_WATER_BYTES = 64 * 1024;

let cluster: TestCluster;
let gateway: Gateway;
let healthy: RawClient;
/** The fields of every "closing a client that does not read" warning the gateway logged. */
const closings: Record<string, unknown>[] = [];

before(async () => {
  cluster = await startTestCluster(['a'], { a: [0, 1] });
  const urls = { a: cluster.agents[0]!.url };
  await cluster.publish(SHARDS, [route(0, 1, 'a', urls), route(1, 1, 'a', urls)]);
  const logger = createLogger('gateway-test', () => undefined);
  gateway = await cluster.startGateway({
    maxConnectionQueueBytes: MAX_CONNECTION_QUEUE_BYTES,
    socketHighWaterBytes: SOCKET_HIGH_WATER_BYTES,
    logger: {
      ...logger,
      warn: (message, fields) => {
        if (message.startsWith('closing a client')) closings.push(fields ?? {});
      },
      child: () => logger,
    },
  });
  healthy = await RawClient.open(gateway.url);
});

after(async () => {
  await healthy.close();
  await cluster.close();
});

/** Reads the value of one unlabelled gauge from `/metrics`. */
async function gauge(name: string): Promise<number> {
  const text = await (await fetch(gateway.url.replace('ws://', 'http://').replace('/v1', '/metrics'))).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  assert.ok(line, `/metrics has ${name}`);
  return Number(line.split(' ')[1]);
}

/** Polls a gauge until it reads `expected` (answers still on their way from the agent may hold it up briefly). */
async function gaugeSettlesAt(name: string, expected: number, timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let value = await gauge(name);
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    value = await gauge(name);
  }
  return value;
}

/** A `ws` client that stops reading its socket once open, and records how it was closed. */
async function openNonReadingClient(url: string): Promise<{ socket: WebSocket; closeCode: Promise<number> }> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const closeCode = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  socket.pause();
  return { socket, closeCode };
}

test('a client that does not read is closed at maxConnectionQueueBytes; the gateway releases what it held and keeps serving others', async () => {
  const value = Buffer.alloc(VALUE_BYTES, 0x5a);
  assert.equal((await healthy.binary({ id: 1, op: 'put', key: 'big', value })).ok, true);

  const slow = await openNonReadingClient(gateway.url);
  for (let id = 1; id <= SLOW_REQUESTS; id++) slow.socket.send(encodeCbor({ id, op: 'get', key: 'big' }));

  // Another client on the same gateway is answered throughout.
  const answers = await Promise.all(Array.from({ length: 50 }, (_, index) => healthy.binary({ id: 100 + index, op: index % 2 ? 'get' : 'put', key: `k${index}`, value: Buffer.from('v') })));
  assert.ok(answers.every((answer) => answer.ok === true), 'the other client gets every answer');

  await eventually(() => gateway.metrics.connectionsClosedByGateway === 1, 10_000, 'the gateway to close the client that does not read');
  assert.equal(closings.length, 1);
  const closing = closings[0]!;
  assert.ok(typeof closing.queuedBytes === 'number' && closing.queuedBytes > 0, 'responses were queued before the close');
  const frameBytes = VALUE_BYTES + 1024;
  assert.ok((closing.queuedBytes as number) <= MAX_CONNECTION_QUEUE_BYTES + frameBytes, `the queue held at most its limit plus one response: ${String(closing.queuedBytes)} bytes`);
  assert.ok((closing.socketBufferedBytes as number) <= SOCKET_HIGH_WATER_BYTES + frameBytes, `uWS held at most the high water plus one response: ${String(closing.socketBufferedBytes)} bytes`);

  // Everything held for the closed connection is released: nothing queued, nothing in flight.
  await eventually(() => gateway.connections() === 1, 5_000, 'the slow connection to be gone');
  assert.equal(await gauge('foreshard_gateway_queued_response_bytes'), 0);
  assert.equal(await gaugeSettlesAt('foreshard_gateway_in_flight', 0), 0, 'no request of the closed connection stays in flight');

  // When the client finally reads, it learns why it was closed.
  slow.socket.resume();
  assert.equal(await slow.closeCode, CLOSE_NOT_READING);

  const again = await healthy.binary({ id: 1000, op: 'get', key: 'big' });
  assert.equal(again.ok, true);
  assert.deepEqual(Buffer.from(again.value as Uint8Array), value, 'the other client still reads the value');
});
