// Proves that `npx foreshard up` stops its whole cluster when npx itself is killed. npx runs `up`
// below npm and a shell that do not pass a signal on, so `kill $!` in a script ends them and left
// `up` and every part running, adopted by init. A shell killed with SIGKILL stands in for npx here;
// `npm_command=exec` is what npm sets for the commands it runs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/up/ports.js';

const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'foreshard-up-launcher-'));

after(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `up` below a shell that stays its parent; resolves with both pids and the recorded parts' pids once it is up. */
interface UpRun {
  shell: number;
  up: number;
  parts: number[];
  output: () => string;
  /** Stops what is left (up on SIGTERM stops its parts), so a failed check leaves nothing running. */
  cleanup: () => Promise<void>;
}

/** With `outer`, a second shell stands in for npm above the one that starts `up`; `shell` is then that outer one. */
async function upBelowShell(dataDir: string, env: NodeJS.ProcessEnv, outer = false): Promise<UpRun> {
  const args = ['up', '--agents', '2', '--shards', '2', '--data-dir', dataDir, '--gateway-port', String(await freePort()),
    '--dashboard-port', String(await freePort()), '--broker-port', String(await freePort())];
  const inner = '"$0" "$@" & echo "pid $!"; wait';
  // The outer shell runs the inner one and then waits, so it cannot hand its process over to it (exec).
  const script = outer ? `sh -c '${inner}' "$0" "$@"; wait` : inner;
  const shell = spawn('sh', ['-c', script, process.execPath, binPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  shell.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  shell.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('up came up', () => output.includes('foreshard is up'), 90_000).catch((error: Error) => {
    throw new Error(`${error.message}:\n${output}`);
  });
  const up = Number(/^pid (\d+)$/m.exec(output)![1]);
  const state = JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { broker: { pid: number }; agents: { pid: number }[]; coordinator: { pid: number }; gateway: { pid: number }; dashboard: { pid: number } };
  const parts = [state.broker.pid, ...state.agents.map((agent) => agent.pid), state.coordinator.pid, state.gateway.pid, state.dashboard.pid];
  const cleanup = async (): Promise<void> => {
    if (alive(up)) process.kill(up, 'SIGTERM');
    await waitFor('up stopped on SIGTERM', () => !alive(up), 30_000).catch(() => process.kill(up, 'SIGKILL'));
    for (const pid of parts) if (alive(pid)) process.kill(pid, 'SIGKILL');
    shell.stdout!.destroy();
    shell.stderr!.destroy();
  };
  assert.ok(parts.every(alive), 'every part runs');
  return { shell: shell.pid!, up, parts, output: () => output, cleanup };
}

/** Kills the process standing in for npx (with `outer`, the one standing in for npm) and checks that up stopped everything. */
async function stopsWhenKilled(name: string, outer: boolean): Promise<void> {
  const run = await upBelowShell(join(dir, name), { npm_command: 'exec' }, outer);
  try {
    process.kill(run.shell, 'SIGKILL');
    await waitFor('up stopped', () => !alive(run.up), 30_000);
    await waitFor('every part stopped', () => !run.parts.some(alive), 10_000);
    assert.match(run.output(), /stopping: the npx that started it exited/);
  } finally {
    await run.cleanup();
  }
}

test('under npx, up stops every part when the npx that started it is killed', () => stopsWhenKilled('npx', false));

test('under npx, up stops every part when npm alone is killed and the shell between them stays', () => stopsWhenKilled('npm', true));

test('started without npx, up keeps running when its parent exits', async () => {
  const run = await upBelowShell(join(dir, 'plain'), { npm_command: '' });
  try {
    process.kill(run.shell, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.ok(alive(run.up), 'up still runs');
    assert.ok(run.parts.every(alive), 'and every part');
    process.kill(run.up, 'SIGTERM');
    await waitFor('up stopped its parts on SIGTERM', () => !alive(run.up) && !run.parts.some(alive), 30_000);
  } finally {
    await run.cleanup();
  }
});
