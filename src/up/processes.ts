import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../common/log.js';

/** The `foreshard` entry point that child processes run. */
const binPath = fileURLToPath(new URL('../../../bin/foreshard.js', import.meta.url));

/** One part of the local cluster, running as its own process. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** Set when `up` itself is stopping it, so its exit is not reported as a failure. */
  stopping: boolean;
}

/**
 * Starts `foreshard <args>` as a child process whose stdout and stderr append to `logFile`.
 * A child that ends while `up` is not stopping it is logged, not restarted: a fault injected with
 * `foreshard chaos <node> kill` must stay visible, and the coordinator handles the failover.
 */
export function startPart(name: string, args: string[], logFile: string, logger: Logger, env: NodeJS.ProcessEnv = {}): ManagedProcess {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [binPath, ...args], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
    // Own process group: Ctrl-C in the terminal reaches `up` only, which then stops the parts in order.
    detached: true,
  });
  closeSync(fd);
  const managed: ManagedProcess = {
    name,
    child,
    logFile,
    stopping: false,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))),
  };
  void managed.exited.then((how) => {
    if (!managed.stopping) logger.warn(`${name} exited (${how}); see ${logFile}`);
  });
  return managed;
}

/** Stops a part: SIGTERM (SIGCONT first, in case a `hang` fault stopped it), then SIGKILL after `graceMs`. */
export async function stopPart(part: ManagedProcess, graceMs: number): Promise<void> {
  part.stopping = true;
  if (part.child.exitCode !== null || part.child.signalCode !== null) return;
  try {
    part.child.kill('SIGCONT');
    part.child.kill('SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => part.child.kill('SIGKILL'), graceMs);
  await part.exited;
  clearTimeout(timer);
}
