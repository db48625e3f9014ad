/**
 * The shape every `foreshard` subcommand shares: its options are declared once, with a default, a
 * description and an environment-variable form (`FORESHARD_<OPTION>`), so `--help`, parsing and the
 * README all come from one place.
 */

/** A declared option of a subcommand. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown in help and used when neither the flag nor the environment variable is given. */
  default?: string | boolean;
  /** Value placeholder in help, e.g. `<dir>`. */
  valueName?: string;
  short?: string;
}

/** Parsed options: flags win over `FORESHARD_<OPTION>` environment variables, which win over defaults. */
export type ParsedOptions = Record<string, string | boolean | undefined>;

/** A subcommand of `foreshard`. */
export interface Command {
  name: string;
  summary: string;
  /** Usage line after `foreshard <name>`, e.g. `<input.csv> --out <output.csv>`. */
  usage: string;
  /** Longer help text printed under the usage line. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Runs the command; returns the process exit code (0 ok, 1 operating error, 2 usage error). */
  run(positionals: string[], options: ParsedOptions): Promise<number>;
}

/** A usage error: bad flags or arguments. The CLI prints it with a hint and exits 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
}

/** An operating error: bad input, missing file, unreachable peer. The CLI prints one line and exits 1. */
export class OperatingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The environment variable that sets `option`, e.g. `data-dir` → `FORESHARD_DATA_DIR`. */
export function envName(option: string): string {
  return `FORESHARD_${option.replace(/-/g, '_').toUpperCase()}`;
}
