import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { envName, OperatingError, UsageError, type Command, type ParsedOptions } from './command.js';

/** Parses `argv` against `command.options`, then fills gaps from the environment and the defaults. */
export function parseCommandLine(
  command: Command,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): { positionals: string[]; options: ParsedOptions; help: boolean } {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(command.options)) {
    config[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const options: ParsedOptions = {};
  for (const [name, spec] of Object.entries(command.options)) {
    const flag = parsed.values[name];
    const fromEnv = env[envName(name)];
    if (flag !== undefined) options[name] = flag;
    else if (fromEnv !== undefined) options[name] = spec.type === 'boolean' ? parseBooleanEnv(name, fromEnv) : fromEnv;
    else options[name] = spec.default;
  }
  return { positionals: parsed.positionals, options, help: parsed.values.help === true };
}

function parseBooleanEnv(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off|)$/i.test(value)) return false;
  throw new UsageError(`${envName(name)} must be true or false, got ${JSON.stringify(value)}`);
}

/** Reads a numeric option, with bounds, as a usage error when it is not a number in range. */
export function numberOption(options: ParsedOptions, name: string, min: number, max: number): number {
  const raw = options[name];
  const value = typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Help text for one command, generated from its option specs. */
export function commandHelp(command: Command): string {
  const lines = [`Usage: foreshard ${command.name} ${command.usage}`.trimEnd(), '', command.summary];
  if (command.details) lines.push('', command.details);
  const names = Object.keys(command.options);
  if (names.length > 0) {
    lines.push('', 'Options:');
    for (const name of names) {
      const spec = command.options[name]!;
      const flag = `--${name}${spec.type === 'string' ? ` ${spec.valueName ?? '<value>'}` : ''}`;
      const def = spec.default === undefined ? '' : ` (default: ${String(spec.default)})`;
      lines.push(`  ${flag.padEnd(30)} ${spec.description}${def} [env ${envName(name)}]`);
    }
  }
  lines.push(`  ${'--help'.padEnd(30)} show this help`);
  return lines.join('\n');
}

/** A string option's value, or undefined when absent or empty. */
export function optionalString(options: ParsedOptions, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The file named by `--<flag>`, read whole; undefined without the flag. An unreadable file is an operating error naming it. */
export function readFlagFile(options: ParsedOptions, flag: string): Buffer | undefined {
  const path = optionalString(options, flag);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new OperatingError('BAD_FILE', `--${flag} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
