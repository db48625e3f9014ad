// Proves the parts that read the cluster from the broker log in to a TLS broker with a private CA
// the way the agent and the coordinator do: `foreshard status` (and so the dashboard, which shares
// its cluster view and flags) with --mqtt-ca, --mqtt-username and --mqtt-password-file as a real
// process, and the gateway's routing subscription with the same login. Without the CA both refuse
// the broker's self-signed certificate. A real Aedes broker on 127.0.0.1 over TLS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startGateway } from '../../src/gateway/index.js';
import { createLogger } from '../../src/common/log.js';
import { CERT, startLoginBroker, type LoginBroker } from '../broker/login-broker.js';

const bin = fileURLToPath(new URL('../../../bin/foreshard.js', import.meta.url));
const run = promisify(execFile);

describe('MQTT over TLS with a private CA', () => {
  let broker: LoginBroker;
  let dir: string;
  before(async () => {
    broker = await startLoginBroker(true);
    dir = mkdtempSync(join(tmpdir(), 'foreshard-mqtt-tls-'));
    writeFileSync(join(dir, 'ca.pem'), CERT);
    writeFileSync(join(dir, 'password'), 'st4tus\n');
  });
  after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status logs in with --mqtt-ca, --mqtt-username and --mqtt-password-file, and refuses the broker without the CA', async () => {
    const url = `mqtts://localhost:${broker.port}`;
    const common = ['status', '--broker', url, '--cluster', 'tls', '--score-wait-ms', '0', '--json'];
    const { stdout } = await run(process.execPath, [bin, ...common, '--mqtt-ca', join(dir, 'ca.pem'), '--mqtt-username', 'ops', '--mqtt-password-file', join(dir, 'password')], { encoding: 'utf8' });
    assert.equal(typeof JSON.parse(stdout), 'object');
    assert.ok(broker.logins.some((login) => login.username === 'ops' && login.password === 'st4tus'), 'the broker saw the status login');
    await assert.rejects(run(process.execPath, [bin, ...common], { encoding: 'utf8' }), (error: { code?: number; stderr?: string }) => {
      assert.notEqual(error.code, 0);
      assert.match(error.stderr ?? '', /self[- ]signed certificate/);
      return true;
    });
  });

  it('a client certificate needs its key: a usage error, before any connection', async () => {
    await assert.rejects(run(process.execPath, [bin, 'status', '--broker', `mqtts://localhost:${broker.port}`, '--mqtt-cert', join(dir, 'ca.pem')], { encoding: 'utf8' }),
      (error: { code?: number; stderr?: string }) => error.code === 2 && /--mqtt-cert and --mqtt-key go together/.test(error.stderr ?? ''));
  });

  it('the gateway subscribes to the routing table with the CA and its login, and refuses the broker without the CA', async () => {
    const logger = createLogger('gateway', () => {});
    const gateway = await startGateway({ port: 0, brokerUrl: `mqtts://127.0.0.1:${broker.port}`, cluster: 'tls', instance: 'gw-tls', brokerLogin: { username: 'gw', password: 'pw', ca: Buffer.from(CERT) }, logger });
    try {
      assert.ok(broker.logins.some((login) => login.clientId.startsWith('gw-tls-') && login.username === 'gw' && login.password === 'pw'), 'the broker saw the gateway login');
    } finally {
      await gateway.close();
    }
    await assert.rejects(startGateway({ port: 0, brokerUrl: `mqtts://127.0.0.1:${broker.port}`, cluster: 'tls', instance: 'gw-untrusted', logger }), /self[- ]signed certificate/);
  });
});
