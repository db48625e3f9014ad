// Proves that bad input on the data port gets a typed error frame or a resync and never crashes a
// host or changes a replica: garbage bytes, frames out of place, wrong epochs and lsn gaps, sent
// both to a primary's data port (over a raw `ws` socket) and to a shadow (by a fake primary built
// on a `ws` server that scripts exactly what the shadow receives).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket, { WebSocketServer } from 'ws';
import { createToken, decodeDataFrame, encodeDataFrame, type DataFrame } from '../../src/protocol/index.js';
import { connectClient, outcome, startHost, utf8, waitFor, type TestHost } from './helpers.js';

/** A raw client that records every decoded frame it gets. */
async function rawClient(url: string): Promise<{ ws: WebSocket; frames: DataFrame[]; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  const frames: DataFrame[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data: Buffer) => frames.push(decodeDataFrame(data)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames, closed };
}

test('the primary answers garbage and out-of-place frames with typed errors and keeps serving', async (t) => {
  const hosts: TestHost[] = [];
  t.after(async () => {
    for (const h of hosts) await h.stop();
  });
  const primary = await startHost('p1', { minShadowAcks: 0 });
  hosts.push(primary);
  await primary.host.openShard(0, 'primary', 3);
  await primary.host.replica(0)!.put(utf8('a'), utf8('1'));
  const before = primary.host.replica(0)!.digest();

  const early = await rawClient(primary.host.dataUrl);
  early.ws.send(Buffer.from([0xff, 0x00, 0x13, 0x37]));
  assert.ok((await early.closed) > 0, 'garbage before hello closes the connection');
  assert.equal(early.frames[0]?.type, 'error');

  const raw = await rawClient(primary.host.dataUrl);
  t.after(() => raw.ws.terminate());
  raw.ws.send(encodeDataFrame({ type: 'hello', version: 1, role: 'gateway', node: 'gw' }));
  await waitFor('welcome', () => raw.frames.length === 1);
  raw.ws.send(Buffer.from('not cbor at all'));
  raw.ws.send(encodeDataFrame({ type: 'ack', shard: 0, epoch: 3, receivedLsn: 5, appliedLsn: 5 }));
  raw.ws.send(encodeDataFrame({ type: 'resync', shard: 0, epoch: 3, fromLsn: 1, reason: 'connect' }));
  raw.ws.send(encodeDataFrame({ type: 'frame', shard: 0, epoch: 9, lsn: 2, ts: 1, op: 'put', key: utf8('a'), value: utf8('evil') }));
  await waitFor('four errors', () => raw.frames.length === 5);
  assert.deepEqual(raw.frames.slice(1).map((f) => (f.type === 'error' ? f.code : f.type)), ['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST']);

  const client = await connectClient(primary.host);
  t.after(() => client.close());
  const wrongEpoch = await client.request({ op: 'put', shard: 0, epoch: 2, key: utf8('a'), value: utf8('x') });
  assert.ok(!wrongEpoch.ok && wrongEpoch.error.code === 'MOVED' && wrongEpoch.error.epoch === 3 && wrongEpoch.error.primary === 'p1');
  const unknown = await client.request({ op: 'get', shard: 7, epoch: 3, key: utf8('a') });
  assert.equal(outcome(unknown), 'UNKNOWN_SHARD');
  assert.equal(primary.host.replica(0)!.digest(), before, 'no bad frame changed the replica');
  assert.equal(outcome(await client.request({ op: 'put', shard: 0, epoch: 3, key: utf8('b'), value: utf8('2') })), 'ok');
  assert.ok(primary.host.stats().badFrames >= 5);
});

test('with auth on, a hello without a valid token is refused UNAUTHORIZED', async (t) => {
  const tokenKey = Buffer.alloc(32, 7);
  const primary = await startHost('p1', { tokenKey, minShadowAcks: 0 });
  t.after(() => primary.stop());
  await primary.host.openShard(0, 'primary', 1);
  await assert.rejects(connectClient(primary.host), /UNAUTHORIZED/);
  await assert.rejects(connectClient(primary.host, createToken(Buffer.alloc(32, 8), { sub: 'gw', expiresAt: Date.now() + 60_000 })), /UNAUTHORIZED/);
  const client = await connectClient(primary.host, createToken(tokenKey, { sub: 'gw', expiresAt: Date.now() + 60_000 }));
  t.after(() => client.close());
  assert.equal(outcome(await client.request({ op: 'put', shard: 0, epoch: 1, key: utf8('a'), value: utf8('1') })), 'ok');
});

test('a shadow fed garbage, a wrong epoch and an lsn gap by its primary re-asks with resync and keeps its state', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as { port: number }).port;
  const received: DataFrame[] = [];
  let primarySocket: WebSocket | undefined;
  server.on('connection', (ws) => {
    primarySocket = ws;
    ws.on('message', (data: Buffer) => {
      const frame = decodeDataFrame(data);
      received.push(frame);
      if (frame.type === 'hello') ws.send(encodeDataFrame({ type: 'welcome', version: 1, node: 'fake' }));
    });
  });
  const shadow = await startHost('s1', { applyDelayMs: 0 });
  t.after(async () => {
    await shadow.stop();
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  await shadow.host.addShadow(0, 4, { node: 'fake', dataUrl: `ws://127.0.0.1:${port}` }, 0);
  const resyncs = (): DataFrame[] => received.filter((f) => f.type === 'resync');
  await waitFor('first resync', () => resyncs().length === 1);
  const send = (frame: DataFrame): void => primarySocket!.send(encodeDataFrame(frame));
  send({ type: 'frame', shard: 0, epoch: 4, lsn: 1, ts: 1, op: 'put', key: utf8('a'), value: utf8('1') });
  await waitFor('lsn 1', () => shadow.host.replica(0)!.receivedLsn === 1);
  const digest = shadow.host.replica(0)!.digest();

  primarySocket!.send(Buffer.from([0x01, 0x02, 0x03]));
  await waitFor('resync after garbage', () => resyncs().length === 2);
  send({ type: 'frame', shard: 0, epoch: 4, lsn: 5, ts: 2, op: 'put', key: utf8('b'), value: utf8('gap') });
  send({ type: 'frame', shard: 0, epoch: 4, lsn: 2, ts: 2, op: 'put', key: utf8('b'), value: utf8('ok') });
  send({ type: 'frame', shard: 0, epoch: 4, lsn: 4, ts: 2, op: 'put', key: utf8('c'), value: utf8('gap') });
  await waitFor('resync after the gap', () => resyncs().length === 3);
  send({ type: 'frame', shard: 0, epoch: 2, lsn: 3, ts: 3, op: 'put', key: utf8('d'), value: utf8('stale') });
  // A frame below the shadow's epoch means this "primary" is not the primary any more: hang up, reconnect, re-ask.
  await waitFor('reconnect after the stale epoch', () => resyncs().length === 4);
  const asked = resyncs().map((f) => (f.type === 'resync' ? [f.fromLsn, f.reason] : []));
  assert.deepEqual(asked, [[1, 'connect'], [2, 'gap'], [3, 'gap'], [3, 'reconnect']]);
  const replica = shadow.host.replica(0)!;
  assert.equal(replica.receivedLsn, 2, 'only the frames in order and at a valid epoch were stored');
  assert.notEqual(replica.digest(), digest);
  assert.equal(Buffer.from(replica.get(utf8('b'))!).toString(), 'ok');
  assert.equal(replica.get(utf8('d')), undefined);
  assert.ok(shadow.host.stats().badFrames >= 1);
});
