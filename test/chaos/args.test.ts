// Proves `foreshard chaos` reads its command line as an operator means it, and refuses what it
// cannot do with a message naming the problem and a correct example: the pure parser for every
// fault, then the real CLI for `--help` (every fault documented), usage errors (exit 2) and a
// --broker cluster (exit 1 with the reason). No cluster is needed for any of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHAOS_FAULT_NAMES, parseChaosArgs, parseRamp } from '../../src/chaos/index.js';

const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [binPath, 'chaos', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('each fault parses into what the agent applies', () => {
  assert.deepEqual(parseChaosArgs(['n1', 'disk-latency'], { ramp: '1:200/60' }), { node: 'n1', action: { fault: 'disk-latency', ramp: { fromMs: 1, toMs: 200, overMs: 60_000 } } });
  assert.deepEqual(parseChaosArgs(['n1', 'disk-latency'], { ramp: '0.5:20/1.5', duration: '90' }).action, { fault: 'disk-latency', ramp: { fromMs: 0.5, toMs: 20, overMs: 1500 }, durationMs: 90_000 });
  assert.deepEqual(parseChaosArgs(['n2', 'error-rate', '0.2']).action, { fault: 'error-rate', probability: 0.2 });
  assert.deepEqual(parseChaosArgs(['n2', 'error-rate', '1'], { duration: '5' }).action, { fault: 'error-rate', probability: 1, durationMs: 5000 });
  assert.deepEqual(parseChaosArgs(['n3', 'cpu-burn']).action, { fault: 'cpu-burn', workers: 1, durationMs: 60_000 });
  assert.deepEqual(parseChaosArgs(['n3', 'cpu-burn'], { workers: '2', duration: '10' }).action, { fault: 'cpu-burn', workers: 2, durationMs: 10_000 });
  assert.deepEqual(parseChaosArgs(['n1', 'hang']), { node: 'n1', action: { fault: 'hang' } });
  assert.deepEqual(parseChaosArgs(['n1', 'kill']), { node: 'n1', action: { fault: 'kill' } });
  assert.deepEqual(parseChaosArgs(['n1', 'clear']), { node: 'n1', action: { fault: 'clear' } });
});

test('usage errors name the problem and show a correct form', () => {
  const refused = (positionals: string[], options: Record<string, string>, message: RegExp): void =>
    assert.throws(() => parseChaosArgs(positionals, options), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'CHAOS_USAGE');
      assert.match((error as Error).message, message);
      return true;
    });
  refused([], {}, /give a node and a fault: foreshard chaos <node> <disk-latency\|error-rate\|cpu-burn\|hang\|kill\|clear>/);
  refused(['n1'], {}, /give a node and a fault/);
  refused(['n1', 'explode'], {}, /unknown fault "explode"; the faults are disk-latency, error-rate, cpu-burn, hang, kill, clear/);
  refused(['n1', 'disk-latency'], {}, /disk-latency needs --ramp <from-ms>:<to-ms>\/<seconds>, e.g. --ramp 1:200\/60/);
  refused(['n1', 'disk-latency'], { ramp: '1-200/60' }, /--ramp must be <from-ms>:<to-ms>\/<seconds>, e.g. --ramp 1:200\/60, got "1-200\/60"/);
  refused(['n1', 'disk-latency'], { ramp: '1:90000/60' }, /at most 60000 ms/);
  refused(['n1', 'error-rate'], {}, /error-rate needs a probability from 0 to 1, e.g. `error-rate 0.2`, got none/);
  refused(['n1', 'error-rate', '20%'], {}, /probability from 0 to 1.*got "20%"/);
  refused(['n1', 'error-rate', '1.5'], {}, /probability from 0 to 1/);
  refused(['n1', 'cpu-burn'], { workers: '0' }, /--workers must be a whole number from 1 to 16, got "0"/);
  refused(['n1', 'cpu-burn'], { duration: '7200' }, /--duration must be a number of seconds above 0 and at most 3600/);
  refused(['n1', 'hang', 'now'], {}, /unexpected argument "now" after hang/);
  refused(['n1', 'error-rate', '0.1', 'extra'], {}, /unexpected argument "extra"/);
  refused(['n1', 'error-rate', '0.1'], { ramp: '1:2/3' }, /--ramp does not apply to error-rate; it takes --duration/);
  refused(['n1', 'kill'], { duration: '3' }, /--duration does not apply to kill$/);
  assert.throws(() => parseRamp('1:200/99999999'), /at most 86400 s/);
});

test('`foreshard chaos --help` documents every fault and where it is delivered', () => {
  const { code, stdout } = cli(['--help']);
  assert.equal(code, 0);
  for (const fault of CHAOS_FAULT_NAMES) assert.match(stdout, new RegExp(`^  ${fault}\\b`, 'm'), `--help documents ${fault}`);
  assert.match(stdout, /--ramp <from-ms>:<to-ms>\/<seconds>/);
  assert.match(stdout, /--allow-chaos/);
  assert.match(stdout, /--broker cluster/);
});

test('the CLI exits 2 on a usage error, and 1 with the reason for --broker or a missing cluster', () => {
  const usage = cli(['n1', 'error-rate']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /error-rate needs a probability/);
  assert.match(usage.stderr, /foreshard chaos --help/);
  const broker = cli(['n1', 'error-rate', '0.5', '--broker', 'mqtt://127.0.0.1:1']);
  assert.equal(broker.code, 1);
  assert.match(broker.stderr, /signed MQTT chaos command/);
  const dir = mkdtempSync(join(tmpdir(), 'foreshard-chaos-args-'));
  try {
    const none = cli(['n1', 'kill', '--data-dir', dir]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no cluster state in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
