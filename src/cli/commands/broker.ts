import { createInterface } from 'node:readline';
import type { Command } from '../command.js';
import { numberOption } from '../parse.js';
import { hashPassword, loadPasswordFile } from '../../broker/auth.js';
import { embeddedBrokerDefaults, startEmbeddedBroker } from '../../broker/embedded.js';
import { createLogger } from '../../common/log.js';

async function readPasswordFromStdin(): Promise<string> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) return line;
  return '';
}

/** `foreshard broker`: the embedded Aedes MQTT broker on its own, for users who have no broker. */
export const brokerCommand: Command = {
  name: 'broker',
  summary: 'run the embedded MQTT broker (Aedes, MQTT 3.1.1) for clusters without one',
  usage: '[--port <n>] [--host <addr>] [--auth <file>]',
  details: [
    'With --auth, clients must log in with a user of the password file, a JSON object',
    '{"users": {"<name>": "scrypt$<salt>$<hash>"}}. Make an entry with',
    '`echo -n secret | foreshard broker --hash-password`.',
    'Retained messages live in memory: a restarted broker starts empty, and foreshard parts publish',
    'their retained state again when they reconnect.',
  ].join('\n'),
  options: {
    port: { type: 'string', description: 'TCP port to listen on', default: String(embeddedBrokerDefaults.port), valueName: '<n>' },
    host: { type: 'string', description: 'address to listen on', default: embeddedBrokerDefaults.host, valueName: '<addr>' },
    auth: { type: 'string', description: 'password file; without it any client may connect', valueName: '<file>' },
    'max-payload-bytes': {
      type: 'string',
      description: 'PUBLISH payloads above this are dropped and counted',
      default: String(embeddedBrokerDefaults.maxPayloadBytes),
      valueName: '<n>',
    },
    'max-connections': { type: 'string', description: 'connections above this are refused', default: String(embeddedBrokerDefaults.maxConnections), valueName: '<n>' },
    'hash-password': { type: 'boolean', description: 'read a password on stdin, print its password-file entry, and exit' },
  },
  async run(positionals, options) {
    if (options['hash-password'] === true) {
      process.stdout.write(hashPassword(await readPasswordFromStdin()) + '\n');
      return 0;
    }
    const logger = createLogger('broker');
    const broker = await startEmbeddedBroker({
      host: String(options.host),
      port: numberOption(options, 'port', 0, 65535),
      maxPayloadBytes: numberOption(options, 'max-payload-bytes', 1024, 256 * 1024 * 1024),
      maxConnections: numberOption(options, 'max-connections', 1, 1_000_000),
      ...(typeof options.auth === 'string' ? { passwords: loadPasswordFile(options.auth) } : {}),
      logger,
    });
    void positionals;
    logger.info(`listening on ${broker.url}`, { auth: typeof options.auth === 'string' });
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await broker.close();
    return 0;
  },
};
