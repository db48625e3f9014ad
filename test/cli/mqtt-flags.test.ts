// Proves every command that connects to the broker spells and reads its MQTT login the same way:
// --mqtt-username, the first line of --mqtt-password-file, else FORESHARD_MQTT_PASSWORD, and the TLS
// files --mqtt-ca, --mqtt-cert and --mqtt-key; an unreadable file is an operating error that names
// it, a certificate without its key and a bad --mqtt-protocol are usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperatingError, UsageError } from '../../src/cli/command.js';
import { commandEntries } from '../../src/cli/commands/index.js';
import { MQTT_PASSWORD_VARIABLE, mqttCredentials, mqttLogin, mqttProtocolLevel } from '../../src/cli/mqtt-flags.js';

test('every command that takes a broker takes the MQTT credential and TLS flags, and no other spelling', async () => {
  const connecting = [];
  for (const entry of commandEntries) {
    const command = await entry.load();
    const flags = Object.keys(command.options);
    assert.ok(!flags.includes('broker-username') && !flags.includes('broker-password-file'), `${command.name} spells its MQTT credentials --broker-*`);
    // chaos refuses --broker clusters.
    if (!flags.includes('broker') || entry.name === 'chaos') continue;
    connecting.push(command.name);
    assert.ok(flags.includes('mqtt-username') && flags.includes('mqtt-password-file'), `${command.name} lacks the MQTT credential flags`);
    for (const flag of ['mqtt-ca', 'mqtt-cert', 'mqtt-key']) assert.ok(flags.includes(flag), `${command.name} lacks --${flag}`);
  }
  for (const name of ['agent', 'coordinator', 'gateway', 'status', 'dashboard', 'switch', 'up']) assert.ok(connecting.includes(name), `${name} was checked`);
});

test('the password is the first line of its file, else the environment; an unreadable file is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foreshard-mqtt-flags-'));
  const file = join(dir, 'password');
  writeFileSync(file, 's3cret\nignored\n');
  const saved = process.env[MQTT_PASSWORD_VARIABLE];
  try {
    process.env[MQTT_PASSWORD_VARIABLE] = 'from-env';
    assert.deepEqual(mqttCredentials({ 'mqtt-username': 'ops', 'mqtt-password-file': file }), { username: 'ops', password: 's3cret' });
    assert.deepEqual(mqttCredentials({}), { password: 'from-env' });
    delete process.env[MQTT_PASSWORD_VARIABLE];
    assert.deepEqual(mqttCredentials({}), {});
    assert.throws(() => mqttCredentials({ 'mqtt-password-file': join(dir, 'missing') }),
      (error: unknown) => error instanceof OperatingError && error.code === 'BAD_FILE' && error.message.includes('--mqtt-password-file') && error.message.includes('ENOENT'));
  } finally {
    if (saved === undefined) delete process.env[MQTT_PASSWORD_VARIABLE];
    else process.env[MQTT_PASSWORD_VARIABLE] = saved;
  }
});

test('the TLS files are read whole; a certificate needs its key, and an unreadable file is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foreshard-mqtt-tls-flags-'));
  for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, name), `${name}\n`);
  const saved = process.env[MQTT_PASSWORD_VARIABLE];
  delete process.env[MQTT_PASSWORD_VARIABLE];
  try {
    const login = mqttLogin({ 'mqtt-username': 'ops', 'mqtt-ca': join(dir, 'ca.pem'), 'mqtt-cert': join(dir, 'cert.pem'), 'mqtt-key': join(dir, 'key.pem') });
    assert.deepEqual({ ...login, ca: login.ca?.toString(), cert: login.cert?.toString(), key: login.key?.toString() }, { username: 'ops', ca: 'ca.pem\n', cert: 'cert.pem\n', key: 'key.pem\n' });
    assert.deepEqual(mqttLogin({}), {});
    assert.throws(() => mqttLogin({ 'mqtt-cert': join(dir, 'cert.pem') }), (error: unknown) => error instanceof UsageError && /--mqtt-cert and --mqtt-key go together/.test((error as Error).message));
    assert.throws(() => mqttLogin({ 'mqtt-key': join(dir, 'key.pem') }), UsageError);
    assert.throws(() => mqttLogin({ 'mqtt-ca': join(dir, 'missing.pem') }),
      (error: unknown) => error instanceof OperatingError && error.code === 'BAD_FILE' && error.message.includes('--mqtt-ca'));
  } finally {
    if (saved !== undefined) process.env[MQTT_PASSWORD_VARIABLE] = saved;
  }
});

test('--mqtt-protocol takes 3.1.1 (or 4) and 5, nothing else', () => {
  assert.equal(mqttProtocolLevel({}), 4);
  assert.equal(mqttProtocolLevel({ 'mqtt-protocol': '3.1.1' }), 4);
  assert.equal(mqttProtocolLevel({ 'mqtt-protocol': '5' }), 5);
  assert.throws(() => mqttProtocolLevel({ 'mqtt-protocol': '3' }), UsageError);
});
