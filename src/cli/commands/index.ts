import type { Command } from '../command.js';
import { AGENT_V8_FLAGS, type CommandV8Flag } from '../v8-flags.js';

/** A subcommand, loaded only when it runs: `foreshard agent` never loads the broker or the gateway. */
export interface CommandEntry {
  name: string;
  /** V8 flags set before the command's modules load (see ../v8-flags.ts). */
  v8Flags?: readonly CommandV8Flag[];
  load(): Promise<Command>;
}

/**
 * Every subcommand that works today, in the order `--help` lists them (DESIGN.md §8). A command is
 * listed here only once it does its job: `--help` never shows one that pretends to work.
 */
export const commandEntries: readonly CommandEntry[] = [
  { name: 'up', load: async () => (await import('./up.js')).upCommand },
  { name: 'agent', v8Flags: AGENT_V8_FLAGS, load: async () => (await import('./agent.js')).agentCommand },
  { name: 'coordinator', load: async () => (await import('./coordinator.js')).coordinatorCommand },
  { name: 'gateway', load: async () => (await import('./gateway.js')).gatewayCommand },
  { name: 'broker', load: async () => (await import('./broker.js')).brokerCommand },
  { name: 'dashboard', load: async () => (await import('./dashboard.js')).dashboardCommand },
  { name: 'status', load: async () => (await import('./status.js')).statusCommand },
  { name: 'incidents', load: async () => (await import('./incidents.js')).incidentsCommand },
  { name: 'conflicts', load: async () => (await import('./conflicts.js')).conflictsCommand },
  { name: 'switch', load: async () => (await import('./switch.js')).switchCommand },
  { name: 'pause-automation', load: async () => (await import('./automation.js')).pauseAutomationCommand },
  { name: 'resume-automation', load: async () => (await import('./automation.js')).resumeAutomationCommand },
  { name: 'chaos', load: async () => (await import('./chaos.js')).chaosCommand },
  { name: 'detect', load: async () => (await import('./detect.js')).detectCommand },
  { name: 'eval', load: async () => (await import('./eval.js')).evalCommand },
  { name: 'restore', load: async () => (await import('./restore.js')).restoreCommand },
  { name: 'token', load: async () => (await import('./token.js')).tokenCommand },
];
