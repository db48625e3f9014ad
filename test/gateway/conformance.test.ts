// Proves the gateway speaks DESIGN.md §5.1 to a plain WebSocket client (the `ws` package, not our
// client): every op over CBOR binary and JSON text frames, success responses carrying `shard`, and
// every error code (BAD_REQUEST with the connection staying usable, TOO_LARGE, UNAUTHORIZED,
// UNAVAILABLE with retryAfterMs past the buffer bounds, TIMEOUT from a silent agent), plus the
// in-flight rule: the 1025th concurrent request on a connection is refused with UNAVAILABLE.
// It runs a real broker, real data ports and gateways; routing tables are published by the test.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createToken } from '../../src/protocol/index.js';
import { shardOfKey, type Gateway } from '../../src/gateway/index.js';
import { RawClient, route, startSilentAgent } from './helpers.js';
import { startTestCluster, type TestCluster } from './cluster.js';

const SHARDS = 4;
/** Shards 0 and 1 on node a, 2 on node b, 3 on a silent agent (never answers). */
const PAUSED_SHARD = 2;
const SILENT_SHARD = 3;
const tokenKey = new Uint8Array(32).fill(7);

/** The first key `prefix<n>` that hashes to `shard`. */
function keyOn(shard: number, prefix = 'k'): string {
  for (let n = 0; ; n++) if (shardOfKey(`${prefix}${n}`, SHARDS) === shard) return `${prefix}${n}`;
}

let cluster: TestCluster;
let silent: Awaited<ReturnType<typeof startSilentAgent>>;
let gateway: Gateway;
let client: RawClient;

before(async () => {
  cluster = await startTestCluster(['a', 'b'], { a: [0, 1], b: [2] });
  silent = await startSilentAgent();
  const urls = { a: cluster.agents[0]!.url, b: cluster.agents[1]!.url, s: silent.url };
  await cluster.publish(SHARDS, [route(0, 1, 'a', urls), route(1, 1, 'a', urls), route(2, 1, 'b', urls), route(3, 1, 's', urls)]);
  gateway = await cluster.startGateway({ requestTimeoutMs: 300 });
  client = await RawClient.open(gateway.url);
});

after(async () => {
  await client.close();
  await cluster.close();
  await silent.close();
});

test('put, get and del over CBOR binary frames, values as byte strings, with shard', async () => {
  const key = keyOn(0);
  const put = await client.binary({ id: 1, op: 'put', key, value: Buffer.from([0, 255, 1]) });
  assert.equal(put.ok, true);
  assert.equal(put.shard, 0);
  assert.equal(typeof put.lsn, 'number');
  const got = await client.binary({ id: 2, op: 'get', key });
  assert.deepEqual({ ok: got.ok, shard: got.shard }, { ok: true, shard: 0 });
  assert.deepEqual(new Uint8Array(got.value as Uint8Array), Uint8Array.of(0, 255, 1));
  const deleted = await client.binary({ id: 3, op: 'del', key });
  assert.deepEqual({ ok: deleted.ok, shard: deleted.shard }, { ok: true, shard: 0 });
  const missing = await client.binary({ id: 4, op: 'get', key });
  assert.deepEqual({ ok: missing.ok, shard: missing.shard, value: missing.value }, { ok: true, shard: 0, value: null });
});

test('put, get and del over JSON text frames, values as strings, and a byte key is the same key', async () => {
  const key = keyOn(1);
  assert.deepEqual(await client.text({ id: 10, op: 'put', key, value: 'héllo' }).then((r) => [r.ok, r.shard]), [true, 1]);
  const got = await client.text({ id: 11, op: 'get', key });
  assert.deepEqual([got.ok, got.shard, got.value], [true, 1, 'héllo']);
  const viaBytes = await client.binary({ id: 12, op: 'get', key: Buffer.from(key, 'utf8') });
  assert.equal(Buffer.from(viaBytes.value as Uint8Array).toString('utf8'), 'héllo');
  assert.deepEqual(await client.text({ id: 13, op: 'del', key }).then((r) => [r.ok, r.shard]), [true, 1]);
  assert.equal((await client.text({ id: 14, op: 'get', key })).value, null);
});

test('BAD_REQUEST for an unknown op, wrong types and unparseable frames; the connection stays usable', async () => {
  const unknownOp = await client.text({ id: 20, op: 'scan', key: 'x' });
  assert.deepEqual([unknownOp.id, (unknownOp.error as { code: string }).code], [20, 'BAD_REQUEST']);
  const wrongType = await client.binary({ id: 21, op: 'get', key: 42 });
  assert.deepEqual([wrongType.id, (wrongType.error as { code: string }).code], [21, 'BAD_REQUEST']);
  const noValue = await client.text({ id: 22, op: 'put', key: 'x' });
  assert.equal((noValue.error as { code: string }).code, 'BAD_REQUEST');
  const badJson = await client.sendRaw('{"id": 23, "op": ', false, null);
  assert.deepEqual([badJson.id, badJson.ok, (badJson.error as { code: string }).code], [null, false, 'BAD_REQUEST']);
  const badCbor = await client.sendRaw(Buffer.from([0xbf, 0x61]), true, null);
  assert.deepEqual([badCbor.id, (badCbor.error as { code: string }).code], [null, 'BAD_REQUEST']);
  const still = await client.text({ id: 24, op: 'get', key: keyOn(0) });
  assert.equal(still.ok, true);
});

test('TOO_LARGE for an oversize key or value', async () => {
  const longKey = await client.text({ id: 30, op: 'get', key: 'k'.repeat(1025) });
  assert.deepEqual([longKey.id, (longKey.error as { code: string }).code], [30, 'TOO_LARGE']);
  const bigValue = await client.binary({ id: 31, op: 'put', key: keyOn(0), value: Buffer.alloc(1024 * 1024 + 1) });
  assert.deepEqual([bigValue.id, (bigValue.error as { code: string }).code], [31, 'TOO_LARGE']);
  assert.equal((await client.binary({ id: 32, op: 'put', key: keyOn(0), value: Buffer.alloc(1024 * 1024) })).ok, true);
});

test('TIMEOUT when the agent does not answer', async () => {
  const answer = await client.text({ id: 40, op: 'get', key: keyOn(SILENT_SHARD) });
  assert.deepEqual([answer.id, answer.ok, (answer.error as { code: string }).code], [40, false, 'TIMEOUT']);
});

test('UNAVAILABLE with retryAfterMs past maxBufferedOps and past maxPauseMs', async () => {
  const small = await cluster.startGateway({ maxBufferedOps: 2, maxPauseMs: 200, retryAfterMs: 123 });
  const urls = { a: cluster.agents[0]!.url, b: cluster.agents[1]!.url, s: silent.url };
  await cluster.publish(SHARDS, [route(0, 1, 'a', urls), route(1, 1, 'a', urls), route(2, 1, 'b', urls, 'paused'), route(3, 1, 's', urls)]);
  const raw = await RawClient.open(small.url);
  try {
    const key = keyOn(PAUSED_SHARD);
    const held = [raw.text({ id: 1, op: 'put', key, value: 'v' }), raw.text({ id: 2, op: 'get', key })];
    const refused = await raw.text({ id: 3, op: 'get', key });
    assert.deepEqual([(refused.error as { code: string }).code, (refused.error as { retryAfterMs: number }).retryAfterMs], ['UNAVAILABLE', 123]);
    for (const answer of await Promise.all(held)) {
      assert.equal((answer.error as { code: string }).code, 'UNAVAILABLE');
      assert.equal((answer.error as { retryAfterMs: number }).retryAfterMs, 123);
    }
    assert.equal((await raw.text({ id: 4, op: 'get', key: keyOn(0) })).ok, true, 'other shards keep serving');
  } finally {
    await raw.close();
    await cluster.publish(SHARDS, [route(0, 1, 'a', urls), route(1, 1, 'a', urls), route(2, 1, 'b', urls), route(3, 1, 's', urls)]);
  }
});

test('UNAUTHORIZED with auth on: no token, a bad token, an expired token; a good one works by header or ?token=', async () => {
  const secured = await cluster.startGateway({ tokenKey });
  const good = createToken(tokenKey, { sub: 'client:test', expiresAt: Date.now() + 60_000 });
  const expired = createToken(tokenKey, { sub: 'client:test', expiresAt: Date.now() - 1 });
  const forged = createToken(new Uint8Array(32).fill(9), { sub: 'client:test', expiresAt: Date.now() + 60_000 });
  const cases: [string, Record<string, string>, string][] = [
    ['none', {}, ''],
    ['expired', { authorization: `Bearer ${expired}` }, ''],
    ['forged', {}, `?token=${forged}`],
  ];
  for (const [name, headers, query] of cases) {
    const raw = await RawClient.open(secured.url + query, headers);
    const answer = await raw.text({ id: 1, op: 'get', key: keyOn(0) });
    assert.equal((answer.error as { code: string } | undefined)?.code, 'UNAUTHORIZED', name);
    await raw.close();
  }
  for (const [headers, query] of [[{ authorization: `Bearer ${good}` }, ''], [{}, `?token=${good}`]] as const) {
    const raw = await RawClient.open(secured.url + query, headers);
    assert.equal((await raw.text({ id: 1, op: 'get', key: keyOn(0) })).ok, true);
    await raw.close();
  }
});

test('the 1025th concurrent request on a connection is refused with UNAVAILABLE; the first 1024 run', async () => {
  const raw = await RawClient.open(gateway.url);
  const key = keyOn(SILENT_SHARD);
  const answers = Array.from({ length: 1025 }, (_, index) => raw.text({ id: index + 1, op: 'get', key }));
  const refused = await answers[1024]!;
  assert.equal((refused.error as { code: string }).code, 'UNAVAILABLE');
  assert.match((refused.error as { message: string }).message, /in flight/);
  assert.equal(typeof (refused.error as { retryAfterMs: unknown }).retryAfterMs, 'number');
  const rest = await Promise.all(answers.slice(0, 1024));
  assert.ok(rest.every((answer) => (answer.error as { code: string }).code === 'TIMEOUT'), 'the 1024 in flight ran to the agent');
  assert.equal((await raw.text({ id: 2000, op: 'get', key: keyOn(0) })).ok, true, 'the connection is usable again');
  await raw.close();
});

test('/healthz says ready, /metrics counts requests and errors', async () => {
  const base = gateway.url.replace('ws://', 'http://').replace('/v1', '');
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /foreshard_gateway_requests_total\{op="get"\} [1-9]/);
  assert.match(metrics, /foreshard_gateway_errors_total\{code="BAD_REQUEST"\} [1-9]/);
});
