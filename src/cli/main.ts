import { commandEntries } from './commands/index.js';
import { OperatingError, UsageError, type Command } from './command.js';
import { commandHelp, parseCommandLine } from './parse.js';
import { applyV8Flags } from './v8-flags.js';

function topLevelHelp(list: readonly Command[]): string {
  const width = Math.max(...list.map((c) => c.name.length)) + 2;
  return [
    'Usage: foreshard <command> [options]',
    '',
    'Predictive failover for sharded storage. Commands:',
    ...list.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`),
    '',
    'Run `foreshard <command> --help` for a command\'s options. Every option can also be set as an',
    'environment variable FORESHARD_<OPTION> (e.g. --data-dir as FORESHARD_DATA_DIR).',
    'Exit codes: 0 success, 1 operating error, 2 usage error.',
  ].join('\n');
}

/** Runs the `foreshard` command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    // Help is the one place every command is loaded, for its summary.
    const commands = await Promise.all(commandEntries.map((entry) => entry.load()));
    process.stdout.write(topLevelHelp(commands) + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const entry = commandEntries.find((c) => c.name === name);
  // Before the command's modules load, so that what they allocate is already under the flags.
  if (entry?.v8Flags) applyV8Flags(entry.v8Flags);
  const command = entry ? await entry.load() : undefined;
  if (!command) {
    process.stderr.write(`foreshard: unknown command ${JSON.stringify(name)}; run \`foreshard --help\` for the list\n`);
    return 2;
  }
  try {
    const { positionals, options, help } = parseCommandLine(command, rest);
    if (help) {
      process.stdout.write(commandHelp(command) + '\n');
      return 0;
    }
    return await command.run(positionals, options);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`foreshard ${command.name}: ${error.message}\nRun \`foreshard ${command.name} --help\` for usage.\n`);
      return 2;
    }
    if (error instanceof OperatingError || (error as { code?: unknown }).code !== undefined) {
      process.stderr.write(`foreshard ${command.name}: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
