// An Aedes broker on 127.0.0.1 for tests of the MQTT clients' login: over plain TCP or over TLS with
// a self-signed certificate, recording each client's user name, password and will topic.
import { once } from 'node:events';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';

// A self-signed certificate for localhost, 127.0.0.1 and ::1, valid for 100 years; test use only.
export const CERT = `-----BEGIN CERTIFICATE-----
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
export const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7szRwJnP8aytJabl
BaIwREXmi9bMBGgMjBP2JRUt17mhRANCAATch78aNLwYsAsfFohmtaNMmH4GDjND
BBWT6RE/28iifp9drr9ui8wrZhUs1jDTWkXwpNEHSGHvZyVeBhmzq6lh
-----END PRIVATE KEY-----`;

export interface LoginBroker {
  port: number;
  logins: { clientId: string; username?: string; password?: string; willTopic?: string }[];
  close(): Promise<void>;
}

/** Starts the broker; `tls` serves {@link CERT} (valid for localhost, 127.0.0.1 and ::1). */
export async function startLoginBroker(tls: boolean): Promise<LoginBroker> {
  const aedes = await Aedes.createBroker();
  const logins: LoginBroker['logins'] = [];
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
