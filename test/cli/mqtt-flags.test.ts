// Proves every command that connects to the broker spells and reads its MQTT credentials the same
// way: --mqtt-username, the first line of --mqtt-password-file, else FORESHARD_MQTT_PASSWORD; an
// unreadable file is an operating error that names it, and a bad --mqtt-protocol a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperatingError, UsageError } from '../../src/cli/command.js';
import { commandEntries } from '../../src/cli/commands/index.js';
import { MQTT_PASSWORD_VARIABLE, mqttCredentials, mqttProtocolLevel } from '../../src/cli/mqtt-flags.js';

test('every command that takes a broker takes --mqtt-username and --mqtt-password-file, and no other spelling', async () => {
  const connecting = [];
  for (const entry of commandEntries) {
    const command = await entry.load();
    const flags = Object.keys(command.options);
    assert.ok(!flags.includes('broker-username') && !flags.includes('broker-password-file'), `${command.name} spells its MQTT credentials --broker-*`);
    // up starts (or is given) a broker for parts it runs itself; chaos refuses --broker clusters.
    if (!flags.includes('broker') || entry.name === 'up' || entry.name === 'chaos') continue;
    connecting.push(command.name);
    assert.ok(flags.includes('mqtt-username') && flags.includes('mqtt-password-file'), `${command.name} lacks the MQTT credential flags`);
  }
  for (const name of ['agent', 'coordinator', 'gateway', 'status', 'dashboard', 'switch']) assert.ok(connecting.includes(name), `${name} was checked`);
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

test('--mqtt-protocol takes 3.1.1 (or 4) and 5, nothing else', () => {
  assert.equal(mqttProtocolLevel({}), 4);
  assert.equal(mqttProtocolLevel({ 'mqtt-protocol': '3.1.1' }), 4);
  assert.equal(mqttProtocolLevel({ 'mqtt-protocol': '5' }), 5);
  assert.throws(() => mqttProtocolLevel({ 'mqtt-protocol': '3' }), UsageError);
});
