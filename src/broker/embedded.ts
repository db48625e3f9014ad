import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { verifyPassword, type PasswordFile } from './auth.js';
import { createLogger, type Logger } from '../common/log.js';

/** Options of the embedded MQTT broker (`foreshard broker`, and inside `foreshard up`). */
export interface EmbeddedBrokerOptions {
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** When set, every client must log in with a user of this file. */
  passwords?: PasswordFile;
  /** A PUBLISH payload above this is dropped and counted, and its sender disconnected [MQTT-3.3.5-2]. */
  maxPayloadBytes: number;
  /** Connections above this are refused by the listening socket. */
  maxConnections: number;
  /** A client whose socket stays full this long is disconnected (Aedes `drainTimeout`). */
  drainTimeoutMs: number;
  logger?: Logger;
}

/** Defaults of {@link EmbeddedBrokerOptions}. */
export const embeddedBrokerDefaults: Readonly<EmbeddedBrokerOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 1883,
  maxPayloadBytes: 1024 * 1024,
  maxConnections: 1024,
  drainTimeoutMs: 10_000,
});

/** A running embedded broker. */
export interface EmbeddedBroker {
  /** `mqtt://host:port` for clients. */
  url: string;
  port: number;
  /** Counters an operator can read: connected clients, dropped oversize payloads, refused logins. */
  stats(): { connectedClients: number; droppedOversizePayloads: number; refusedLogins: number };
  close(): Promise<void>;
}

/** Starts an Aedes broker on a TCP port (MQTT 3.1.1; Aedes does not speak MQTT 5). */
export async function startEmbeddedBroker(options: Partial<EmbeddedBrokerOptions> = {}): Promise<EmbeddedBroker> {
  const config: EmbeddedBrokerOptions = { ...embeddedBrokerDefaults, ...options };
  const logger = config.logger ?? createLogger('broker');
  const counters = { droppedOversizePayloads: 0, refusedLogins: 0 };
  const aedes = await Aedes.createBroker({
    drainTimeout: config.drainTimeoutMs,
    // foreshard topics are at most 5 levels deep below the root; 16 leaves room for other tools.
    maxTopicLevels: 16,
    maxClientsIdLength: 128,
    authenticate(client, username, password, done) {
      if (!config.passwords) return done(null, true);
      const entry = username === undefined ? undefined : config.passwords.users[username];
      if (entry !== undefined && password !== undefined && verifyPassword(entry, password)) return done(null, true);
      counters.refusedLogins++;
      logger.warn('refused login', { clientId: client.id, username: username ?? null });
      const error = new Error('bad username or password') as AuthenticateError;
      error.returnCode = 4;
      done(error, null);
    },
    // [MQTT-3.3.5-2]: a refused PUBLISH cannot be reported to its client, so the connection is closed.
    authorizePublish(client, packet, callback) {
      if (packet.topic.startsWith('$SYS/')) return callback(new Error('$SYS/ topics are reserved for the broker'));
      if (packet.payload && packet.payload.length > config.maxPayloadBytes) {
        counters.droppedOversizePayloads++;
        logger.warn('dropped oversize payload', { clientId: client?.id ?? null, topic: packet.topic, bytes: packet.payload.length });
        return callback(new Error('payload too large'));
      }
      callback(null);
    },
  });
  aedes.on('clientError', (client, error) => logger.debug('client error', { clientId: client.id, error: error.message }));
  const server: Server = createServer(aedes.handle);
  server.maxConnections = config.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    url: `mqtt://${config.host}:${port}`,
    port,
    stats: () => ({ connectedClients: aedes.connectedClients, ...counters }),
    close: () =>
      new Promise<void>((resolve) => {
        // Aedes closes its clients' sockets, after which the listening socket can close.
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}
