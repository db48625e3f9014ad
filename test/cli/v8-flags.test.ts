// Proves the V8 flags `foreshard agent` sets on itself: an operator's own choice on the node command
// line or in NODE_OPTIONS wins over the command's default, and a real `foreshard agent` process runs
// with the flags in effect (checked through V8's own view of its flags, not our bookkeeping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AGENT_V8_FLAGS, type CommandV8Flag } from '../../src/cli/v8-flags.js';

const mainModule = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

// applyV8Flags really sets flags on this test process, so the unit cases use a flag that changes
// nothing observable here.
const harmless: CommandV8Flag[] = [{ flag: '--no-sparkplug', decidedBy: ['sparkplug'] }];

test('a flag the operator gave, in either spelling, is left to the operator', async () => {
  const { applyV8Flags } = await import('../../src/cli/v8-flags.js');
  assert.deepEqual(applyV8Flags(harmless, ['--sparkplug'], ''), []);
  assert.deepEqual(applyV8Flags(harmless, [], '--max-old-space-size=100 --no_sparkplug'), []);
  assert.deepEqual(applyV8Flags(harmless, ['--expose-gc'], '--max-old-space-size=100'), ['--no-sparkplug']);
});

test('--max-semi-space-size from the operator decides the young generation instead of the agent', async () => {
  const { applyV8Flags } = await import('../../src/cli/v8-flags.js');
  const applied = applyV8Flags(AGENT_V8_FLAGS.filter((f) => f.flag.startsWith('--semi-space')), ['--max-semi-space-size=4'], '');
  assert.deepEqual(applied, []);
});

test('after `foreshard agent` sets its flags, the young generation stops growing; after `gateway` it grows', () => {
  // A child runs main() for `<command> --help` (which applies the command's flags), then allocates
  // 200 MB of short-lived objects and reports the new space V8 committed: the observable effect of
  // --semi-space-growth-factor=1.
  const script = `
    import { main } from ${JSON.stringify(mainModule)};
    import { getHeapSpaceStatistics } from 'node:v8';
    const out = process.stdout.write.bind(process.stdout);
    process.stdout.write = () => true;
    await main([process.argv[1], '--help']);
    let keep = 0;
    for (let i = 0; i < 2_000_000; i++) keep += new Array(10).fill(i).length;
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    out(JSON.stringify({ keep, bytes: space.space_size }));
  `;
  const newSpace = (command: string): number => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script, command], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return (JSON.parse(result.stdout) as { bytes: number }).bytes;
  };
  const agent = newSpace('agent');
  const gateway = newSpace('gateway');
  assert.ok(agent <= 2 * 1024 * 1024, `agent new space ${agent} bytes`);
  assert.ok(gateway > agent, `gateway new space ${gateway} bytes vs agent ${agent}`);
});
