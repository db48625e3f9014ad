/**
 * The MQTT flags of every command that connects to the broker, declared and read in one place so
 * that they are spelled and behave the same in each: `--mqtt-username`, the password from
 * `--mqtt-password-file` (its first line) or the FORESHARD_MQTT_PASSWORD variable, the TLS files,
 * and for the long-running parts the protocol version and the keep-alive. It loads only the CLI's
 * own small modules, so the agent can use it without loading the coordinator's command.
 */
import type { MqttLogin } from '../common/mqtt-login.js';
import { UsageError, type OptionSpec, type ParsedOptions } from './command.js';
import { optionalString, readFlagFile } from './parse.js';

/** The variable the MQTT password is read from when no password file is given. */
export const MQTT_PASSWORD_VARIABLE = 'FORESHARD_MQTT_PASSWORD';

/** User name and password: every command that connects to the broker takes these. */
export const mqttAuthFlags: Readonly<Record<string, OptionSpec>> = Object.freeze({
  'mqtt-username': { type: 'string', description: 'MQTT user name', valueName: '<name>' },
  'mqtt-password-file': { type: 'string', description: `file whose first line is the MQTT password (else $${MQTT_PASSWORD_VARIABLE})`, valueName: '<file>' },
});

/** The TLS client files: every command that connects to the broker takes these too. */
export const mqttTlsFlags: Readonly<Record<string, OptionSpec>> = Object.freeze({
  'mqtt-ca': { type: 'string', description: 'PEM file of the CA that signed the broker\'s certificate', valueName: '<file>' },
  'mqtt-cert': { type: 'string', description: 'PEM client certificate for the broker (with --mqtt-key)', valueName: '<file>' },
  'mqtt-key': { type: 'string', description: 'PEM private key of --mqtt-cert', valueName: '<file>' },
});

/** The login flags whose values are file paths. */
export const MQTT_FILE_FLAGS: readonly string[] = Object.freeze(['mqtt-password-file', ...Object.keys(mqttTlsFlags)]);

/** Every login flag: the user name and {@link MQTT_FILE_FLAGS}. */
export const MQTT_LOGIN_FLAGS: readonly string[] = Object.freeze(['mqtt-username', ...MQTT_FILE_FLAGS]);

/** The TLS files, protocol version and keep-alive, for the parts that hold a session open. */
export function mqttSessionFlags(keepaliveDefaultS: number): Record<string, OptionSpec> {
  return {
    ...mqttTlsFlags,
    'mqtt-protocol': { type: 'string', description: 'MQTT version: 3.1.1 or 5', default: '3.1.1', valueName: '<version>' },
    'mqtt-keepalive': { type: 'string', description: 'MQTT keep-alive in seconds (the will fires 1.5x after silence)', default: String(keepaliveDefaultS), valueName: '<s>' },
  };
}

/** The user name and password of {@link mqttAuthFlags}, with only the fields that are set. */
export function mqttCredentials(options: ParsedOptions): { username?: string; password?: string } {
  const username = optionalString(options, 'mqtt-username');
  const file = readFlagFile(options, 'mqtt-password-file');
  const password = file === undefined ? process.env[MQTT_PASSWORD_VARIABLE] : file.toString('utf8').split(/\r?\n/, 1)[0]!;
  return { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** The contents of {@link mqttTlsFlags}' files; a certificate without its key (or the reverse) is a usage error. */
export function mqttTlsFiles(options: ParsedOptions): Pick<MqttLogin, 'ca' | 'cert' | 'key'> {
  if ((optionalString(options, 'mqtt-cert') === undefined) !== (optionalString(options, 'mqtt-key') === undefined)) throw new UsageError('--mqtt-cert and --mqtt-key go together');
  const ca = readFlagFile(options, 'mqtt-ca');
  const cert = readFlagFile(options, 'mqtt-cert');
  const key = readFlagFile(options, 'mqtt-key');
  return { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
}

/** Everything a command logs in with: {@link mqttCredentials} and {@link mqttTlsFiles}. */
export function mqttLogin(options: ParsedOptions): MqttLogin {
  return { ...mqttCredentials(options), ...mqttTlsFiles(options) };
}

/** `--mqtt-protocol` as MQTT's protocol level: 4 for 3.1.1, or 5. */
export function mqttProtocolLevel(options: ParsedOptions): 4 | 5 {
  const raw = String(options['mqtt-protocol'] ?? '3.1.1');
  if (raw === '3.1.1' || raw === '4') return 4;
  if (raw === '5') return 5;
  throw new UsageError(`--mqtt-protocol must be 3.1.1 or 5, got ${JSON.stringify(raw)}`);
}
