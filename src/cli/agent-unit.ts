/**
 * `foreshard agent --print-unit`: the systemd unit that runs this agent on a bare-metal host, with
 * the options it was given. The unit starts node itself, so it can give the settings node and glibc
 * read only at process start, which the agent cannot set on itself (docs/agent-memory.md, eighth
 * round): a smaller V8 worker pool. Nothing secret goes into the unit: a password is named by its
 * file (`--mqtt-password-file`), never written.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, type OptionSpec, type ParsedOptions } from './command.js';
import { MQTT_FILE_FLAGS, MQTT_PASSWORD_VARIABLE } from './mqtt-flags.js';

/**
 * What the unit gives node at start: one V8 worker thread instead of one per core. Measured side by
 * side at steady state (`scripts/agent-ab.mjs --seconds 780 --n 2`): RSS max 73.7 → 72.1 MB and
 * 68.5 → 66.8 at the end, CPU 1.32 → 1.33%. MALLOC_ARENA_MAX=2 was measured too and is not set:
 * alone it read 74.2 and 70.3 in the same run (docs/agent-memory.md, eighth round).
 */
export const AGENT_UNIT_NODE_FLAGS: readonly string[] = Object.freeze(['--v8-pool-size=1']);

/** Options of the agent whose values are paths: made absolute, since a unit runs from /. */
const pathOptions: ReadonlySet<string> = new Set(['data-dir', 'cluster-key-file', ...MQTT_FILE_FLAGS]);

/** Options that shape the unit rather than the agent; never passed on. */
export const agentUnitOptions: Readonly<Record<string, OptionSpec>> = Object.freeze({
  'print-unit': { type: 'boolean', description: 'print a systemd unit that runs this agent with these options (plus node --v8-pool-size=1), then exit', default: false },
  'unit-user': { type: 'string', description: 'with --print-unit: the user the unit runs the agent as (User=)', valueName: '<name>' },
});

/** A profile given as a path (it names a file) rather than as a shipped profile's name. */
function isProfilePath(value: string): boolean {
  return value.includes('/') || value.endsWith('.json');
}

/**
 * One ExecStart word as systemd reads it: double-quoted when it holds a space, a quote, a backslash
 * or a semicolon; `%` and `$` doubled so that systemd expands neither specifiers nor variables.
 */
export function systemdWord(word: string): string {
  if (/[\n\r]/.test(word)) throw new UsageError(`a systemd unit cannot carry a line break in an argument: ${JSON.stringify(word)}`);
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\;]/.test(escaped) || escaped === '' ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}

/**
 * The agent's own arguments for the unit: every option whose value is not its default (from a flag
 * or a FORESHARD_<OPTION> variable alike: the unit must not depend on this shell), paths made absolute.
 */
export function agentUnitArguments(specs: Readonly<Record<string, OptionSpec>>, options: ParsedOptions, cwd: string = process.cwd()): string[] {
  const args: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (name in agentUnitOptions) continue;
    const value = options[name];
    if (value === undefined || value === false || value === spec.default) continue;
    if (spec.type === 'boolean') {
      args.push(`--${name}`);
      continue;
    }
    let text = String(value);
    if (pathOptions.has(name) || (name === 'profile' && isProfilePath(text))) text = isAbsolute(text) ? text : resolve(cwd, text);
    args.push(`--${name}`, text);
  }
  return args;
}

/** The unit's text: `args` are {@link agentUnitArguments}; `options` name it and say who runs it. */
export function agentUnit(args: readonly string[], options: ParsedOptions, environment: NodeJS.ProcessEnv = process.env): string {
  if (options['mqtt-password-file'] === undefined && environment[MQTT_PASSWORD_VARIABLE] !== undefined) {
    throw new UsageError(`the MQTT password is in $${MQTT_PASSWORD_VARIABLE}, which a unit would have to write out; give it as --mqtt-password-file <file> instead`);
  }
  const user = typeof options['unit-user'] === 'string' ? options['unit-user'] : undefined;
  if (user !== undefined && !/^[a-z_][a-z0-9_-]*\$?$/i.test(user)) throw new UsageError(`--unit-user must be a user name, got ${JSON.stringify(user)}`);
  const bin = fileURLToPath(new URL('../../../bin/foreshard.js', import.meta.url));
  const exec = [process.execPath, ...AGENT_UNIT_NODE_FLAGS, bin, 'agent', ...args].map(systemdWord).join(' ');
  return [
    '# Written by `foreshard agent --print-unit`. Install it as /etc/systemd/system/<name>.service, then',
    '# `systemctl daemon-reload && systemctl enable --now <name>`.',
    '[Unit]',
    `Description=foreshard agent ${String(options['node-id'])} (cluster ${String(options.cluster)})`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    ...(user !== undefined ? [`User=${user}`] : []),
    `ExecStart=${exec}`,
    // SIGTERM stops the agent cleanly (it closes its replicas and publishes offline).
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    'Restart=always',
    'RestartSec=2',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
