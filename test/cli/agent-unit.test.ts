// Proves `foreshard agent --print-unit` gives an operator a systemd unit that runs the agent they
// described: the options carried over with paths made absolute, the password only as its file, the
// start-up memory settings in place, mistakes refused before a unit is printed, and an ExecStart line
// that, run as systemd would run it, starts a real agent that comes online on a real broker; where
// systemd-analyze is installed, it verifies the unit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { systemdWord } from '../../src/cli/agent-unit.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/common/log.js';

const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'foreshard-agent-unit-'));
let broker: EmbeddedBroker;

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FORESHARD_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [binPath, ...args], { cwd, env: { ...clean, ...env } }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

/** Splits an ExecStart value into words the way systemd does for the quoting systemdWord writes. */
function execWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const match of line.matchAll(pattern)) {
    const raw = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!;
    words.push(raw.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

function unitField(unit: string, name: string): string[] {
  return unit.split('\n').filter((line) => line.startsWith(`${name}=`)).map((line) => line.slice(name.length + 1));
}

before(async () => {
  broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: createLogger('broker', () => undefined) });
  writeFileSync(join(dir, 'password'), 'unit-s3cret\n');
  writeFileSync(join(dir, 'cluster.key'), 'ab'.repeat(32) + '\n');
});

after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

test('systemdWord quotes what systemd would split or expand', () => {
  assert.equal(systemdWord('/usr/bin/node'), '/usr/bin/node');
  assert.equal(systemdWord('/srv/my data'), '"/srv/my data"');
  assert.equal(systemdWord('50%'), '50%%');
  assert.equal(systemdWord('$HOME'), '$$HOME');
  assert.equal(systemdWord('say "hi"'), '"say \\"hi\\""');
  assert.equal(systemdWord(''), '""');
  assert.throws(() => systemdWord('two\nlines'), /line break/);
  for (const word of ['/srv/my data', '50%', '$HOME', 'say "hi"', 'back\\slash']) assert.deepEqual(execWords(systemdWord(word)), [word]);
});

test('the unit carries the options with absolute paths, the password as its file, and the start-up settings', async () => {
  const result = await cli(['agent', '--print-unit', '--unit-user', 'foreshard', '--broker', broker.url, '--node-id', 'rack1-n07', '--cluster', 'edge',
    '--profile', 'nvme-storage-node', '--data-dir', 'data', '--cluster-key-file', 'cluster.key', '--mqtt-username', 'ops', '--mqtt-password-file', 'password', '--http-port', '9999'], dir);
  assert.equal(result.code, 0, result.stderr);
  const unit = result.stdout;
  assert.deepEqual(unitField(unit, 'User'), ['foreshard']);
  assert.deepEqual(unitField(unit, 'Restart'), ['always']);
  assert.match(unit, /^Description=foreshard agent rack1-n07 \(cluster edge\)$/m);
  const words = execWords(unitField(unit, 'ExecStart')[0]!);
  assert.deepEqual(words.slice(0, 4), [process.execPath, '--v8-pool-size=1', binPath, 'agent']);
  const flag = (name: string): string | undefined => words[words.indexOf(`--${name}`) + 1];
  assert.equal(flag('data-dir'), join(dir, 'data'));
  assert.equal(flag('cluster-key-file'), join(dir, 'cluster.key'));
  assert.equal(flag('mqtt-password-file'), join(dir, 'password'));
  assert.equal(flag('profile'), 'nvme-storage-node');
  assert.equal(flag('http-port'), '9999');
  assert.ok(!words.includes('--print-unit') && !words.includes('--unit-user'), 'the unit options are not passed on');
  assert.doesNotMatch(unit, /unit-s3cret/);
});

test('mistakes are refused before a unit is printed', async () => {
  const base = ['agent', '--print-unit', '--broker', broker.url, '--node-id', 'n1', '--data-dir', 'data'];
  const fromEnv = await cli([...base, '--profile', 'generic-x86-server'], dir, { FORESHARD_MQTT_PASSWORD: 'p' });
  assert.equal(fromEnv.code, 2);
  assert.match(fromEnv.stderr, /FORESHARD_MQTT_PASSWORD.*--mqtt-password-file/);
  const badProfile = await cli([...base, '--profile', 'no-such-profile'], dir);
  assert.notEqual(badProfile.code, 0);
  assert.match(badProfile.stderr, /no-such-profile/);
  const badCa = await cli([...base, '--profile', 'generic-x86-server', '--mqtt-ca', 'missing.pem'], dir);
  assert.equal(badCa.code, 2);
  assert.match(badCa.stderr, /--mqtt-ca missing\.pem cannot be read: ENOENT/);
  const user = await cli([...base, '--profile', 'generic-x86-server', '--unit-user', 'bad user'], dir);
  assert.equal(user.code, 2);
  for (const result of [fromEnv, badProfile, badCa, user]) assert.equal(result.stdout, '', 'no unit on a refusal');
  const stray = await cli(['agent', '--unit-user', 'foreshard', '--broker', broker.url, '--node-id', 'n1', '--data-dir', 'data', '--profile', 'generic-x86-server'], dir);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--unit-user goes with --print-unit/);
});

test('the ExecStart line, run as systemd runs it, starts an agent that comes online', async () => {
  const printed = await cli(['agent', '--print-unit', '--broker', broker.url, '--node-id', 'unit-n1', '--cluster', 'unit', '--profile', 'generic-x86-server',
    '--data-dir', 'run', '--http-host', '127.0.0.1', '--http-port', '0', '--data-host', '127.0.0.1', '--data-port', '0', '--advertise-host', '127.0.0.1'], dir);
  assert.equal(printed.code, 0, printed.stderr);
  const [command, ...args] = execWords(unitField(printed.stdout, 'ExecStart')[0]!);
  const environment = Object.fromEntries(unitField(printed.stdout, 'Environment').map((pair) => pair.split('=', 2) as [string, string]));
  const client = await mqtt.connectAsync(broker.url, { clientId: 'unit-watch', reconnectPeriod: 0 });
  try {
    await client.subscribeAsync('foreshard/v1/unit/node/unit-n1/state');
    const birth = new Promise<[string]>((resolve) => client.once('message', (topic) => resolve([topic])));
    // systemd starts the unit from / with only the unit's environment.
    const agent = spawn(command!, args, { cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...environment }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    agent.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = once(agent, 'exit') as Promise<[number | null]>;
    let online = false;
    const early = exit.then(() => {
      if (!online) throw new Error(`the agent exited before it came online: ${stderr}`);
    });
    early.catch(() => undefined);
    try {
      const [topic] = (await Promise.race([birth, early])) as [string];
      online = true;
      assert.equal(topic, 'foreshard/v1/unit/node/unit-n1/state');
    } finally {
      online = true;
      if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM');
    }
    const [code] = await exit;
    assert.equal(code, 0, `the agent stops cleanly on systemd's SIGTERM: ${stderr}`);
  } finally {
    await client.endAsync();
  }
});

test('systemd-analyze verify accepts the printed unit, awkward paths included', async (t) => {
  const which = await new Promise<string | null>((resolve) => execFile('sh', ['-c', 'command -v systemd-analyze'], (error, stdout) => resolve(error ? null : stdout.trim())));
  if (which === null) return t.skip('systemd-analyze is not on this machine (Debian package systemd)');
  const awkward = join(dir, 'a dir with spaces, 100% and $HOME');
  mkdirSync(awkward, { recursive: true });
  writeFileSync(join(awkward, 'cluster.key'), 'cd'.repeat(32) + '\n');
  const printed = await cli(['agent', '--print-unit', '--unit-user', 'foreshard', '--broker', broker.url, '--node-id', 'verify-n1', '--profile', 'hdd-archive-node',
    '--data-dir', join(awkward, 'data'), '--cluster-key-file', join(awkward, 'cluster.key'), '--mqtt-username', 'ops', '--mqtt-password-file', 'password'], dir);
  assert.equal(printed.code, 0, printed.stderr);
  const unitFile = join(dir, 'foreshard-agent-verify.service');
  writeFileSync(unitFile, printed.stdout);
  const verified = await new Promise<{ code: number; output: string }>((resolve) =>
    execFile(which, ['verify', '--man=no', unitFile], (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr })));
  assert.equal(verified.code, 0, verified.output);
  assert.equal(verified.output.trim(), '', 'no warning either');
  const words = execWords(unitField(printed.stdout, 'ExecStart')[0]!);
  assert.equal(words[words.indexOf('--data-dir') + 1], join(awkward, 'data'));
});
