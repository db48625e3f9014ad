// Proves the agent's MQTT client connects as `mqtt.connect` would, without loading mqtt.js's entry
// point for mqtt:// and mqtts:// brokers (src/agent/mqtt-link.ts, `connectClient`): TLS with a CA,
// with the host name checked and the certificate verified; username and password; the will; and the
// cases left to mqtt.connect itself (credentials in the URL). Real sockets against an in-process
// Aedes broker on 127.0.0.1, over plain TCP and over TLS with a self-signed certificate.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connectClient } from '../../src/agent/mqtt-link.js';
import { CERT, startLoginBroker, type LoginBroker } from '../broker/login-broker.js';

const require = createRequire(import.meta.url);

function connected(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
}

const base = { protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 5000, writeCache: false };

describe('the agent MQTT client', () => {
  let plain: LoginBroker;
  let secure: LoginBroker;
  const clients: MqttClient[] = [];
  before(async () => {
    plain = await startLoginBroker(false);
    secure = await startLoginBroker(true);
  });
  after(async () => {
    for (const client of clients) client.end(true);
    await plain.close();
    await secure.close();
  });

  it('connects over TCP with a username, a password and a will, without loading mqtt.js\'s transports', async () => {
    const client = connectClient(`mqtt://127.0.0.1:${plain.port}`, { ...base, clientId: 'plain-1', username: 'agent', password: 'secret', will: { topic: 'will/plain-1', payload: Buffer.from('x'), qos: 1, retain: true } });
    clients.push(client);
    await connected(client);
    assert.deepEqual(plain.logins.find((login) => login.clientId === 'plain-1'), { clientId: 'plain-1', username: 'agent', password: 'secret', willTopic: 'will/plain-1' });
    await client.publishAsync('t/plain', 'hello', { qos: 1 });
    const loaded = Object.keys(require.cache);
    for (const module of ['mqtt/build/lib/connect/index.js', 'socks', 'ws']) assert.ok(!loaded.some((path) => path.includes(`node_modules/${module}`)), `${module} was loaded`);
  });

  it('connects over TLS to a broker whose certificate the given CA signs, by IP address and by host name', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const client = connectClient(`mqtts://${host}:${secure.port}`, { ...base, clientId: `tls-${host}`, ca: Buffer.from(CERT), username: 'agent', password: 'secret' });
      clients.push(client);
      await connected(client);
      assert.equal(secure.logins.find((login) => login.clientId === `tls-${host}`)?.username, 'agent');
      await client.publishAsync('t/tls', 'hello', { qos: 1 });
    }
  });

  it('refuses a TLS broker whose certificate no trusted CA signs', async () => {
    const client = connectClient(`mqtts://127.0.0.1:${secure.port}`, { ...base, clientId: 'tls-untrusted' });
    clients.push(client);
    await assert.rejects(connected(client), /self[- ]signed certificate/);
    assert.equal(client.connected, false);
    assert.equal(secure.logins.some((login) => login.clientId === 'tls-untrusted'), false);
  });

  it('leaves URLs with credentials to mqtt.connect, which takes them from the URL', async () => {
    const client = connectClient(`mqtt://url-user:url-pass@127.0.0.1:${plain.port}`, { ...base, clientId: 'url-auth' });
    clients.push(client);
    await connected(client);
    assert.deepEqual(plain.logins.find((login) => login.clientId === 'url-auth'), { clientId: 'url-auth', username: 'url-user', password: 'url-pass' });
  });
});
