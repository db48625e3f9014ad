import type { Command } from '../command.js';

/**
 * Every subcommand that works today. A command is listed here only once it does its job: `--help`
 * never shows one that pretends to work.
 */
export const commands: readonly Command[] = [];
