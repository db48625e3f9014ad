/**
 * V8 flags a command sets on its own process, before its modules load (`v8.setFlagsFromString`).
 * Node reads NODE_OPTIONS and the command line only at start, and `foreshard agent` is started by
 * systemd units, scripts and tests that should not each have to know them, so the command applies
 * them itself. Only flags that V8 consults while it runs belong here: heap sizes, for example, are
 * fixed when the isolate is created, and setting them later would silently do nothing.
 * docs/agent-memory.md has the measurements behind each flag.
 */
import { setFlagsFromString } from 'node:v8';

/** A V8 flag a command sets, unless the operator already chose the setting it makes. */
export interface CommandV8Flag {
  /** As V8 takes it, e.g. `--no-sparkplug` or `--interrupt-budget=2162688`. */
  readonly flag: string;
  /** Names of the flags (without `--` or `no-`) that, given by the operator, decide the same setting. */
  readonly decidedBy: readonly string[];
}

/**
 * The agent runs for months on every storage host, where its footprint counts against the storage
 * it serves (issue 5: under 60 MB RSS). None of these changes a result, only when V8 spends memory;
 * the data path keeps its steady-state throughput (`npm run bench -- store`).
 * - `--semi-space-growth-factor=1`: the young generation stays at the 1 MiB semi-spaces it starts
 *   with, instead of doubling under the agent's steady allocation up to 16 MiB each. It is what
 *   `--max-semi-space-size=1` does at start-up, a size a running process can no longer set.
 * - `--interrupt-budget=2162688` (32 times Node 20's default): a function must run 32 times as long
 *   before TurboFan optimizes it. The agent's once-a-second work no longer earns an optimized
 *   compile, whose memory stays behind in the compiler threads' malloc arenas; a busy data path
 *   still does, a few seconds later.
 * - `--no-sparkplug`: no baseline code for functions that are warm but never hot.
 * `--optimize-for-size` and `--no-opt` would save more, but cost the data path a third and two
 * thirds of its write throughput; an operator who wants that trade can pass them to node.
 */
export const AGENT_V8_FLAGS: readonly CommandV8Flag[] = Object.freeze([
  { flag: '--semi-space-growth-factor=1', decidedBy: ['semi-space-growth-factor', 'max-semi-space-size', 'min-semi-space-size'] },
  { flag: '--interrupt-budget=2162688', decidedBy: ['interrupt-budget'] },
  { flag: '--no-sparkplug', decidedBy: ['sparkplug'] },
]);

/** The name of a flag as given: `--no-foo`, `--foo=1` and `--foo_bar` name `foo`, `foo` and `foo-bar`. */
function flagName(argument: string): string {
  return argument.replace(/=.*$/, '').replace(/_/g, '-').replace(/^--?/, '').replace(/^no-/, '');
}

/**
 * Sets each of `flags` whose setting the operator did not already choose on the node command line
 * or in NODE_OPTIONS (an explicit choice wins over the command's default). Returns the flags set.
 */
export function applyV8Flags(flags: readonly CommandV8Flag[], execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].filter((argument) => argument.startsWith('-')).map(flagName));
  const applied = flags.filter((entry) => !entry.decidedBy.some((name) => given.has(name))).map((entry) => entry.flag);
  for (const flag of applied) setFlagsFromString(flag);
  return applied;
}
