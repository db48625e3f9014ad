// Proves the agent's MQTT client connects as `mqtt.connect` would, without loading mqtt.js's entry
// point for mqtt:// and mqtts:// brokers (src/agent/mqtt-link.ts, `connectClient`): TLS with a CA,
// with the host name checked and the certificate verified; username and password; the will; and the
// cases left to mqtt.connect itself (credentials in the URL). Real sockets against an in-process
// Aedes broker on 127.0.0.1, over plain TCP and over TLS with a self-signed certificate.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Aedes, type Client } from 'aedes';
import type { MqttClient } from 'mqtt';
import { connectClient } from '../../src/agent/mqtt-link.js';

// A self-signed certificate for localhost, 127.0.0.1 and ::1, valid for 100 years; test use only.
const CERT = `-----BEGIN CERTIFICATE-----
MIIBrjCCAVSgAwIBAgIUMtMo+srA1xvtBuTdnTTnsSSpDiwwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTAzNTAwOVoYDzIxMjYxMDI4
MDM1MDA5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATch78aNLwYsAsfFohmtaNMmH4GDjNDBBWT6RE/28iifp9drr9ui8wr
ZhUs1jDTWkXwpNEHSGHvZyVeBhmzq6lho4GBMH8wHQYDVR0OBBYEFJZGTSlGkRn3
cKToivNzUa8+piIsMB8GA1UdIwQYMBaAFJZGTSlGkRn3cKToivNzUa8+piIsMCwG
A1UdEQQlMCOCCWxvY2FsaG9zdIcEfwAAAYcQAAAAAAAAAAAAAAAAAAAAATAPBgNV
HRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCiTNYptF2g7qUgWCAOX86W
xlWT+qFibQDgxu5zaF14yQIgVZSvI+QV8grC1wB4y/Z0lnJ84MfrXkYjvwiWTTVG
dc8=
-----END CERTIFICATE-----`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7szRwJnP8aytJabl
BaIwREXmi9bMBGgMjBP2JRUt17mhRANCAATch78aNLwYsAsfFohmtaNMmH4GDjND
BBWT6RE/28iifp9drr9ui8wrZhUs1jDTWkXwpNEHSGHvZyVeBhmzq6lh
-----END PRIVATE KEY-----`;

const require = createRequire(import.meta.url);

interface Broker {
  port: number;
  logins: { clientId: string; username?: string; password?: string; willTopic?: string }[];
  close(): Promise<void>;
}

async function startBroker(tls: boolean): Promise<Broker> {
  const aedes = await Aedes.createBroker();
  const logins: Broker['logins'] = [];
  aedes.authenticate = (client: Client, username: Readonly<string> | undefined, password: Readonly<Buffer> | undefined, done) => {
    logins.push({ clientId: client.id, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password: password.toString() } : {}) });
    done(null, true);
  };
  aedes.on('client', (client) => {
    const login = logins.find((entry) => entry.clientId === client.id);
    const will = (client as unknown as { will?: { topic: string } }).will;
    if (login && will) login.willTopic = will.topic;
  });
  const server: Server = tls ? createTlsServer({ cert: CERT, key: KEY }, aedes.handle) : createTcpServer(aedes.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    logins,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

function connected(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
}

const base = { protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 5000, writeCache: false };

describe('the agent MQTT client', () => {
  let plain: Broker;
  let secure: Broker;
  const clients: MqttClient[] = [];
  before(async () => {
    plain = await startBroker(false);
    secure = await startBroker(true);
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
