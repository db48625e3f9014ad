// Proves the client library (`foreshard/client`) against a real gateway, broker and ShardHost:
// get/put/del as promises over both framings, typed errors carrying the gateway's code and
// retryAfterMs, request timeouts, automatic reconnect after the gateway restarts on the same port,
// and the browser path (a global WebSocket, token in `?token=`) with auth on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect, ForeshardError } from '../../src/client/index.js';
import { createToken } from '../../src/protocol/index.js';
import { shardOfKey, type Gateway } from '../../src/gateway/index.js';
import { routesOf, startTestCluster, type TestCluster } from '../gateway/cluster.js';
import { eventually, route, startSilentAgent } from '../gateway/helpers.js';

const SHARDS = 2;
let cluster: TestCluster;
let silent: Awaited<ReturnType<typeof startSilentAgent>>;
let gateway: Gateway;

function keyOn(shard: number): string {
  for (let n = 0; ; n++) if (shardOfKey(`key${n}`, SHARDS) === shard) return `key${n}`;
}

before(async () => {
  cluster = await startTestCluster(['a'], { a: [0] });
  silent = await startSilentAgent();
  const routes = routesOf(cluster, 1, { a: [0] });
  await cluster.publish(SHARDS, [routes[0]!, route(1, 1, 's', { s: silent.url })]);
  gateway = await cluster.startGateway({ requestTimeoutMs: 10_000 });
});

after(async () => {
  await cluster.close();
  await silent.close();
});

test('get, put and del resolve over binary and text framing', { timeout: 20_000 }, async () => {
  for (const framing of ['binary', 'text'] as const) {
    const client = await connect(gateway.url, { framing });
    const key = keyOn(0);
    const written = await client.put(key, `value-${framing}`);
    assert.equal(written.shard, 0);
    assert.equal(await client.getString(key), `value-${framing}`);
    assert.equal((await client.del(key)).shard, 0);
    assert.equal(await client.get(key), null);
    await client.close();
  }
});

test('gateway errors reject with a typed ForeshardError; a request timeout rejects with TIMEOUT', { timeout: 20_000 }, async () => {
  const client = await connect(gateway.url, { requestTimeoutMs: 200 });
  await assert.rejects(client.get('k'.repeat(2000)), (error: ForeshardError) => error instanceof ForeshardError && error.code === 'TOO_LARGE');
  await assert.rejects(client.get(keyOn(1)), (error: ForeshardError) => error.code === 'TIMEOUT');
  assert.equal(await client.getString(keyOn(0)), null, 'still usable');
  await client.close();
  await assert.rejects(client.get('x'), (error: ForeshardError) => error.code === 'CLOSED');
});

test('the client reconnects on its own after the gateway restarts on the same port', { timeout: 20_000 }, async () => {
  const own = await cluster.startGateway();
  const states: string[] = [];
  const client = await connect(own.url, { onStateChange: (state) => states.push(state), reconnectInitialDelayMs: 20 });
  await client.put(keyOn(0), 'before');
  await own.close();
  await eventually(() => states.includes('closed'), 5_000, 'the client to notice the drop');
  const again = await cluster.startGateway({ port: own.port });
  await eventually(() => client.connected, 5_000, 'the client to reconnect');
  assert.equal(await client.getString(keyOn(0)), 'before');
  assert.deepEqual(states, ['open', 'closed', 'open']);
  await client.close();
  await again.close();
});

test('with a global WebSocket (the browser path) the token travels as ?token=', { timeout: 20_000 }, async () => {
  const tokenKey = new Uint8Array(32).fill(3);
  const secured = await cluster.startGateway({ tokenKey });
  const token = createToken(tokenKey, { sub: 'browser', expiresAt: Date.now() + 60_000 });
  const holder = globalThis as { WebSocket?: unknown };
  const previous = holder.WebSocket;
  holder.WebSocket = WebSocket; // stands in for the browser's global: no headers can be set through it
  try {
    const client = await connect(secured.url, { token, framing: 'text' });
    await client.put(keyOn(0), 'from a browser');
    assert.equal(await client.getString(keyOn(0)), 'from a browser');
    await client.close();
    const anonymous = await connect(secured.url);
    await assert.rejects(anonymous.get(keyOn(0)), (error: ForeshardError) => error.code === 'UNAUTHORIZED');
    await anonymous.close();
  } finally {
    holder.WebSocket = previous;
  }
});
