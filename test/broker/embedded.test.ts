// Proves the embedded broker is a usable MQTT 3.1.1 broker for foreshard: retained messages reach
// late subscribers, the password file admits its users and refuses others, oversize payloads are
// dropped and counted, and `foreshard broker` runs as a process that stops cleanly on SIGINT.
// It talks to the real broker over TCP with a real mqtt.js client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { hashPassword } from '../../src/broker/auth.js';

const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;

async function connect(url: string, options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
}

test('a retained message reaches a subscriber that arrives later', async () => {
  const broker = await startEmbeddedBroker({ port: 0 });
  try {
    const publisher = await connect(broker.url);
    await publisher.publishAsync('foreshard/v1/test/routing', Buffer.from('v1'), { qos: 1, retain: true });
    const subscriber = await connect(broker.url);
    const received = new Promise<[string, Buffer, mqtt.IPublishPacket]>((resolve) =>
      subscriber.once('message', (topic, payload, packet) => resolve([topic, payload, packet])),
    );
    await subscriber.subscribeAsync('foreshard/v1/test/routing', { qos: 1 });
    const [topic, payload, packet] = await received;
    assert.equal(topic, 'foreshard/v1/test/routing');
    assert.equal(payload.toString(), 'v1');
    assert.equal(packet.retain, true);
    await Promise.all([publisher.endAsync(), subscriber.endAsync()]);
  } finally {
    await broker.close();
  }
});

test('the password file admits its users and refuses wrong passwords', async () => {
  const broker = await startEmbeddedBroker({ port: 0, passwords: { users: { agent: hashPassword('s3cret') } } });
  try {
    const good = await connect(broker.url, { username: 'agent', password: 's3cret' });
    assert.equal(good.connected, true);
    await good.endAsync();
    await assert.rejects(connect(broker.url, { username: 'agent', password: 'wrong' }), /Bad username or password|Not authorized/i);
    await assert.rejects(connect(broker.url), /Bad username or password|Not authorized/i);
    assert.equal(broker.stats().refusedLogins, 2);
  } finally {
    await broker.close();
  }
});

test('an oversize payload is dropped, counted and its sender disconnected, while others flow', async () => {
  const broker = await startEmbeddedBroker({ port: 0, maxPayloadBytes: 1024 });
  try {
    const subscriber = await connect(broker.url);
    await subscriber.subscribeAsync('foreshard/v1/test/#', { qos: 1 });
    const seen: string[] = [];
    subscriber.on('message', (topic) => seen.push(topic));
    const flooder = await connect(broker.url);
    const closed = new Promise<void>((resolve) => flooder.once('close', () => resolve()));
    flooder.publish('foreshard/v1/test/big', Buffer.alloc(4096), { qos: 0 });
    await closed;
    const publisher = await connect(broker.url);
    await publisher.publishAsync('foreshard/v1/test/small', Buffer.alloc(16), { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(seen, ['foreshard/v1/test/small']);
    assert.equal(broker.stats().droppedOversizePayloads, 1);
    flooder.end(true);
    await Promise.all([publisher.endAsync(), subscriber.endAsync()]);
  } finally {
    await broker.close();
  }
});

test('`foreshard broker` serves clients and exits 0 on SIGINT', async () => {
  const child = spawn(process.execPath, [binPath, 'broker', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${stderr}`)), 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (mqtt:\/\/[\d.]+:\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  const client = await connect(url);
  await client.endAsync();
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
});
