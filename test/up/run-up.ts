// Starts `foreshard up` as a real process for the tests that need a whole local cluster.
import { spawn, type ChildProcess } from 'node:child_process';

const binPath = new URL('../../../bin/foreshard.js', import.meta.url).pathname;

/** Spawns `foreshard up <args>` and resolves once it prints that it is up; kills it when it is not up within 90 s. */
export async function spawnUp(args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [binPath, 'up', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`foreshard up did not come up in 90 s:\n${output}`));
    }, 90_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('foreshard is up')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`foreshard up exited (${code}) before it was up:\n${output}`)));
  });
  return child;
}
