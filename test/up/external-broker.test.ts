// Proves `foreshard up --broker <url>` runs a cluster on an external broker that wants a login: up
// checks the login first (a wrong or missing password is one clear error at once, nothing started),
// then passes --mqtt-username and --mqtt-password-file to every part it starts and keeps them in
// cluster.json, so `status` and the signed operator commands work with --data-dir alone. The broker is a real one with a password file (the embedded
// Aedes broker, in this process); up and its parts are real processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { hashPassword } from '../../src/broker/auth.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/common/log.js';
import { freePort } from '../../src/up/ports.js';
import { spawnUp } from './run-up.js';

const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'foreshard-up-external-'));
const passwordFile = join(dir, 'password');
const wrongPasswordFile = join(dir, 'wrong');
let broker: EmbeddedBroker;
let up: ChildProcess | undefined;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [binPath, ...args], (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

before(async () => {
  writeFileSync(passwordFile, 'up-s3cret\n');
  writeFileSync(wrongPasswordFile, 'guess\n');
  broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, passwords: { users: { ops: hashPassword('up-s3cret') } }, logger: createLogger('broker', () => undefined) });
});

after(async () => {
  if (up && up.exitCode === null) {
    up.kill('SIGKILL');
    await once(up, 'exit');
  }
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

test('up refuses the broker at once without the right login, and says why', async () => {
  const common = ['up', '--broker', broker.url, '--agents', '2', '--shards', '2', '--data-dir', join(dir, 'refused')];
  for (const login of [[], ['--mqtt-username', 'ops', '--mqtt-password-file', wrongPasswordFile]]) {
    const result = await cli([...common, ...login]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot log in to the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+: Connection refused: (Bad username or password|Not authorized)/);
  }
  const usage = await cli(['up', '--mqtt-username', 'ops', '--data-dir', join(dir, 'refused')]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--mqtt-username \(or \$FORESHARD_MQTT_USERNAME\) is for an external --broker/);
});

test('up passes the login to every part, and status reads the cluster with it', async () => {
  const dataDir = join(dir, 'cluster');
  up = await spawnUp(['--broker', broker.url, '--agents', '2', '--shards', '2', '--data-dir', dataDir,
    '--gateway-port', String(await freePort()), '--dashboard-port', String(await freePort()), '--mqtt-username', 'ops', '--mqtt-password-file', passwordFile]);
  const status = await cli(['status', '--data-dir', dataDir, '--json', '--mqtt-username', 'ops', '--mqtt-password-file', passwordFile]);
  assert.equal(status.code, 0, status.stderr);
  const report = JSON.parse(status.stdout) as { nodes: { id: string; state: string }[]; shards: unknown[] };
  assert.deepEqual(report.nodes.map((node) => node.state), ['online', 'online']);
  assert.equal(report.shards.length, 2);
  // up kept the login's flags (never the password) in cluster.json: --data-dir alone is enough,
  // for reading and for signed commands alike, and a flag on the command line still wins.
  const recorded = JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { mqttLogin?: Record<string, string> };
  assert.deepEqual(recorded.mqttLogin, { 'mqtt-username': 'ops', 'mqtt-password-file': passwordFile });
  assert.doesNotMatch(readFileSync(join(dataDir, 'cluster.json'), 'utf8'), /up-s3cret/);
  const plain = await cli(['status', '--data-dir', dataDir, '--json']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal((JSON.parse(plain.stdout) as { nodes: unknown[] }).nodes.length, 2);
  for (const command of ['pause-automation', 'resume-automation']) {
    const answer = await cli([command, '--data-dir', dataDir]);
    assert.equal(answer.code, 0, `${command}: ${answer.stderr}`);
  }
  const refused = await cli(['status', '--data-dir', dataDir, '--json', '--mqtt-password-file', wrongPasswordFile]);
  assert.notEqual(refused.code, 0, 'a wrong password given on the command line is used, and refused by the broker');
  assert.match(refused.stderr, /Bad username or password|Not authorized/);
  up.kill('SIGINT');
  const [code] = await once(up, 'exit');
  assert.equal(code, 0);
});
